//! Context writes (§4.2–§4.6): EntryContext merge, setContext, deletions.

use serde_json::{json, Value};
use xsoar_context::{
    append_path, clear_except, delete_index, delete_path, get_path, merge_entry_context, set_path,
};

/// Applies `writes` (EntryContext key, value) in order to `start` and compares with `expected`.
fn check(name: &str, start: Value, writes: &[(&str, Value)], expected: Value) {
    let mut ctx = start;
    for (key, value) in writes {
        merge_entry_context(&mut ctx, key, value.clone())
            .unwrap_or_else(|e| panic!("{name}: merging {key}: {e}"));
    }
    assert_eq!(ctx, expected, "{name}");
}

const SIGNL4_KEY: &str = "SIGNL4.AlertCreated(val.eventId && val.eventId == obj.eventId)";

#[test]
fn append_without_selector() {
    check(
        "absent: stored as written (object)",
        json!({}),
        &[("A.B", json!({"x": 1}))],
        json!({"A": {"B": {"x": 1}}}),
    );
    check(
        "absent: stored as written (list)",
        json!({}),
        &[("L", json!([1]))],
        json!({"L": [1]}),
    );
    check(
        "second write turns an object into a list",
        json!({}),
        &[("A", json!({"x": 1})), ("A", json!({"x": 1}))],
        json!({"A": [{"x": 1}, {"x": 1}]}),
    );
    check(
        "lists are concatenated, no de-duplication",
        json!({"A": [1, 2]}),
        &[("A", json!([2, 3])), ("A", json!(4))],
        json!({"A": [1, 2, 2, 3, 4]}),
    );
    check(
        "scalars",
        json!({}),
        &[("S", json!("a")), ("S", json!("b"))],
        json!({"S": ["a", "b"]}),
    );
    check(
        "null counts as absent",
        json!({"N": null}),
        &[("N", json!({"a": 1}))],
        json!({"N": {"a": 1}}),
    );
    check(
        "names with spaces and hyphens",
        json!({}),
        &[("Hello World.entity-id", json!("e"))],
        json!({"Hello World": {"entity-id": "e"}}),
    );
    check(
        "appending an empty list changes nothing",
        json!({"A": {"x": 1}}),
        &[("A", json!([]))],
        json!({"A": {"x": 1}}),
    );
    check(
        "an apostrophe in a key name is not a quote",
        json!({}),
        &[
            ("User's.Data(val.id == obj.id)", json!({"id": 1})),
            ("User's.Data(val.id == obj.id)", json!({"id": 1, "b": 2})),
        ],
        json!({"User's": {"Data": {"id": 1, "b": 2}}}),
    );
    check(
        "an intermediate list of objects: written into its last element",
        json!({"A": [{"id": 1}, {"id": 2}]}),
        &[("A.B", json!(1))],
        json!({"A": [{"id": 1}, {"id": 2, "B": 1}]}),
    );
}

#[test]
fn selector_updates_in_place_or_appends() {
    check(
        "deep merge of the matching item, new values win, arrays replaced, order kept",
        json!({"X": [{"id": 1, "a": {"x": 1, "y": 1}, "tags": [1], "keep": true}, {"id": 2}]}),
        &[(
            "X(val.id == obj.id)",
            json!({"id": 1, "a": {"y": 2, "z": 3}, "tags": [2], "b": 1}),
        )],
        json!({"X": [{"id": 1, "a": {"x": 1, "y": 2, "z": 3}, "tags": [2], "keep": true, "b": 1}, {"id": 2}]}),
    );
    check(
        "no match: appended",
        json!({"X": [{"id": 1}, {"id": 2}]}),
        &[("X(val.id == obj.id)", json!({"id": 3}))],
        json!({"X": [{"id": 1}, {"id": 2}, {"id": 3}]}),
    );
    check(
        "absent path: stored as written",
        json!({}),
        &[
            ("X(val.id == obj.id)", json!({"id": 1})),
            ("Y(val.id == obj.id)", json!([{"id": 1}])),
        ],
        json!({"X": {"id": 1}, "Y": [{"id": 1}]}),
    );
    check(
        "several new objects: later ones see earlier merges and appends",
        json!({"X": [{"id": 1, "a": 1}, {"id": 2}]}),
        &[(
            "X(val.id == obj.id)",
            json!([{"id": 1, "b": 1}, {"id": 3}, {"id": 3, "x": 1}, {"id": 1, "c": 1}]),
        )],
        json!({"X": [{"id": 1, "a": 1, "b": 1, "c": 1}, {"id": 2}, {"id": 3, "x": 1}]}),
    );
    check(
        "updating the only item keeps its shape (object)",
        json!({"X": {"id": 1, "a": 1}}),
        &[("X(val.id == obj.id)", json!([{"id": 1, "b": 2}]))],
        json!({"X": {"id": 1, "a": 1, "b": 2}}),
    );
    check(
        "updating the only item keeps its shape (one-element list)",
        json!({"X": [{"id": 1, "a": 1}]}),
        &[("X(val.id == obj.id)", json!({"id": 1, "b": 2}))],
        json!({"X": [{"id": 1, "a": 1, "b": 2}]}),
    );
    check(
        "loose equality in the key: \"1\" == 1",
        json!({"X": [{"id": "1"}]}),
        &[("X(val.id == obj.id)", json!({"id": 1, "n": true}))],
        json!({"X": [{"id": 1, "n": true}]}),
    );
    check(
        "strict equality in the key: \"1\" !== 1",
        json!({"X": [{"id": "1"}]}),
        &[("X(val.id === obj.id)", json!({"id": 1}))],
        json!({"X": [{"id": "1"}, {"id": 1}]}),
    );
    check(
        "a throwing selector is no match",
        json!({"X": [{"id": 1}]}),
        &[("X(val.a.b == obj.a.b)", json!({"id": 2, "a": {"b": 1}}))],
        json!({"X": [{"id": 1}, {"id": 2, "a": {"b": 1}}]}),
    );
    check(
        "a selector that needs QuickJS",
        json!({"X": [{"name": "Alpha"}, {"name": "beta"}]}),
        &[(
            "X(val.name.toLowerCase() == obj.name.toLowerCase())",
            json!({"name": "BETA", "seen": 2}),
        )],
        json!({"X": [{"name": "Alpha"}, {"name": "BETA", "seen": 2}]}),
    );
    check(
        "the DBotScore key (several fields)",
        json!({"DBotScore": [{"Indicator": "1.2.3.4", "Vendor": "A", "Type": "ip", "Score": 1}]}),
        &[
            (
                "DBotScore(val.Indicator && val.Indicator == obj.Indicator && val.Vendor == obj.Vendor && val.Type == obj.Type)",
                json!([
                    {"Indicator": "1.2.3.4", "Vendor": "A", "Type": "ip", "Score": 3},
                    {"Indicator": "1.2.3.4", "Vendor": "B", "Type": "ip", "Score": 2}
                ]),
            ),
        ],
        json!({"DBotScore": [
            {"Indicator": "1.2.3.4", "Vendor": "A", "Type": "ip", "Score": 3},
            {"Indicator": "1.2.3.4", "Vendor": "B", "Type": "ip", "Score": 2}
        ]}),
    );
    check(
        "the File key (alternatives with ||)",
        json!({"File": [{"MD5": "m1"}, {"SHA256": "s2", "Name": "a"}]}),
        &[(
            "File(val.MD5 && val.MD5 == obj.MD5 || val.SHA1 && val.SHA1 == obj.SHA1 || val.SHA256 && val.SHA256 == obj.SHA256)",
            json!({"SHA256": "s2", "Size": 5}),
        )],
        json!({"File": [{"MD5": "m1"}, {"SHA256": "s2", "Name": "a", "Size": 5}]}),
    );
}

#[test]
fn signl4_command_results_key_updated_twice() {
    check(
        "same eventId twice: one object, fields merged",
        json!({}),
        &[
            (SIGNL4_KEY, json!({"eventId": "e-1", "title": "disk"})),
            (
                SIGNL4_KEY,
                json!({"eventId": "e-1", "status": "acknowledged"}),
            ),
        ],
        json!({"SIGNL4": {"AlertCreated": {"eventId": "e-1", "title": "disk", "status": "acknowledged"}}}),
    );
    check(
        "different eventIds: a list of two, then an update in place",
        json!({}),
        &[
            (SIGNL4_KEY, json!({"eventId": "e-1", "title": "disk"})),
            (SIGNL4_KEY, json!({"eventId": "e-2", "title": "cpu"})),
            (SIGNL4_KEY, json!({"eventId": "e-2", "title": "cpu high"})),
        ],
        json!({"SIGNL4": {"AlertCreated": [
            {"eventId": "e-1", "title": "disk"},
            {"eventId": "e-2", "title": "cpu high"}
        ]}}),
    );
    check(
        "the guard keeps items without the key field apart",
        json!({"SIGNL4": {"AlertCreated": [{"title": "no id"}]}}),
        &[(SIGNL4_KEY, json!({"title": "also no id"}))],
        json!({"SIGNL4": {"AlertCreated": [{"title": "no id"}, {"title": "also no id"}]}}),
    );
    check(
        "the older unguarded form merges them (undefined == undefined)",
        json!({"SIGNL4": {"AlertCreated": [{"title": "no id"}]}}),
        &[(
            "SIGNL4.AlertCreated(val.eventId == obj.eventId)",
            json!({"title": "also no id"}),
        )],
        json!({"SIGNL4": {"AlertCreated": [{"title": "also no id"}]}}),
    );
}

#[test]
fn true_selector_overwrites_fields() {
    check(
        "fields of the node are overwritten, others kept",
        json!({"Paging": {"NextToken": "a", "Extra": 1}}),
        &[("Paging(true)", json!({"NextToken": "b"}))],
        json!({"Paging": {"NextToken": "b", "Extra": 1}}),
    );
    check(
        "replace_existing form: the last part is replaced wholesale",
        json!({"Vendor": {"Next": {"token": "a", "page": 1}, "Other": 5}}),
        &[
            ("Vendor(true)", json!({"Next": {"token": "b"}})),
            ("Vendor(true)", json!({"Next": {"token": "c"}})),
        ],
        json!({"Vendor": {"Next": {"token": "c"}, "Other": 5}}),
    );
    check(
        "absent: stored as written",
        json!({}),
        &[("P( true )", json!({"t": 1}))],
        json!({"P": {"t": 1}}),
    );
    check(
        "on a list the first item is overwritten",
        json!({"P": [{"t": 1}, {"t": 2}]}),
        &[("P(true)", json!({"t": 9}))],
        json!({"P": [{"t": 9}, {"t": 2}]}),
    );
}

#[test]
fn trailing_path_after_the_selector_is_a_field_of_the_new_object() {
    check(
        "QRadar.Offense(val.id == obj.id).id",
        json!({}),
        &[
            ("QRadar.Offense(val.id == obj.id).id", json!(5)),
            ("QRadar.Offense(val.id == obj.id).id", json!(5)),
            ("QRadar.Offense(val.id == obj.id).id", json!(6)),
        ],
        json!({"QRadar": {"Offense": [{"id": 5}, {"id": 6}]}}),
    );
}

#[test]
fn failing_merges_leave_the_context_unchanged() {
    let start = json!({"X": [{"id": 1}, {"id": 2}], "Other": {"k": "v"}});
    let rows: &[(&str, &str)] = &[
        ("X(val.id ==)", "does not compile"),
        ("X(val.id == obj.id", "without matching"),
        ("X(val.id == obj.id)junk", "expected '.'"),
        ("", "empty context path"),
        ("()", "empty selector"),
        ("X((function(){ while (true) {} })())", "time budget"),
    ];
    for (key, fragment) in rows {
        let mut ctx = start.clone();
        let e = merge_entry_context(&mut ctx, key, json!([{"id": 1, "new": true}, {"id": 3}]))
            .expect_err(key);
        assert!(e.to_string().contains(fragment), "{key}: {e}");
        assert_eq!(ctx, start, "{key} modified the context");
    }
}

#[test]
fn set_get_append() {
    let mut ctx = json!({"A": {"B": [1, 2]}, "List": [{"x": 1}, {"x": 2}]});
    set_path(&mut ctx, "A.B", json!("over"));
    set_path(&mut ctx, "New.Deep Path.leaf", json!({"v": 1}));
    set_path(&mut ctx, "", json!("ignored"));
    assert_eq!(ctx["A"], json!({"B": "over"}));
    assert_eq!(ctx["New"], json!({"Deep Path": {"leaf": {"v": 1}}}));
    let rows: &[(&str, Option<Value>)] = &[
        ("A.B", Some(json!("over"))),
        ("New.Deep Path.leaf.v", Some(json!(1))),
        ("List.1.x", Some(json!(2))),
        ("List.5", None),
        ("A.B.C", None),
        ("Nope", None),
    ];
    for (path, expected) in rows {
        assert_eq!(get_path(&ctx, path).cloned(), *expected, "{path}");
    }
    assert_eq!(get_path(&ctx, ""), Some(&ctx));
    append_path(&mut ctx, "A.B", json!("more"));
    append_path(&mut ctx, "Fresh", json!([1]));
    assert_eq!(ctx["A"]["B"], json!(["over", "more"]));
    assert_eq!(ctx["Fresh"], json!([1]));
}

#[test]
fn deletions() {
    let start = json!({
        "A": {"B": 1, "C": 2, "D": 3},
        "URL": [{"Data": "u1", "Malicious": true}, {"Data": "u2"}],
        "L": [10, 20, 30],
        "S": "single"
    });
    let mut ctx = start.clone();
    assert!(delete_path(&mut ctx, "A.C"));
    assert_eq!(
        serde_json::to_string(&ctx["A"]).unwrap_or_default(),
        r#"{"B":1,"D":3}"#
    );
    assert!(!delete_path(&mut ctx, "A.C"));
    assert!(!delete_path(&mut ctx, "Nope.X"));
    assert!(!delete_path(&mut ctx, ""));
    // Through a list: deleted from every element.
    assert!(delete_path(&mut ctx, "URL.Malicious"));
    assert_eq!(ctx["URL"], json!([{"Data": "u1"}, {"Data": "u2"}]));
    assert!(delete_path(&mut ctx, "S"));
    assert!(ctx.get("S").is_none());

    assert!(delete_index(&mut ctx, "L", 1));
    assert_eq!(ctx["L"], json!([10, 30]));
    assert!(!delete_index(&mut ctx, "L", 5));
    assert!(!delete_index(&mut ctx, "Nope", 0));
    let mut single = json!({"X": {"a": 1}});
    assert!(!delete_index(&mut single, "X", 1));
    assert!(delete_index(&mut single, "X", 0));
    assert_eq!(single, json!({}));
}

#[test]
fn clear_except_keeps_nested_paths() {
    let rows: &[(&[&str], Value)] = &[
        (&[], json!({})),
        (&["Keep"], json!({"Keep": {"x": [1, 2]}})),
        (
            &["URL.Data", "Keep", "Deep.a.b", "Missing.path"],
            json!({
                "URL": [{"Data": "u1"}, {"Data": "u2"}],
                "Keep": {"x": [1, 2]},
                "Deep": {"a": {"b": 1}}
            }),
        ),
        (
            &["URL.Data", "URL.Malicious"],
            json!({"URL": [{"Data": "u1", "Malicious": true}, {"Data": "u2"}]}),
        ),
        (&["Deep.a.c.z"], json!({})),
    ];
    let start = json!({
        "URL": [{"Data": "u1", "Malicious": true, "Other": 1}, {"Data": "u2"}, {"Other": 2}],
        "Keep": {"x": [1, 2]},
        "Deep": {"a": {"b": 1, "c": 2}, "d": 3},
        "Drop": "me"
    });
    for (keep, expected) in rows {
        let mut ctx = start.clone();
        clear_except(&mut ctx, keep);
        assert_eq!(&ctx, expected, "{keep:?}");
    }
}

/// Key-field selectors are decided on JSON directly; where JavaScript's loose equality would
/// convert types (a number against a string), the selector still gives JavaScript's answer.
#[test]
fn key_field_selectors_match_like_javascript() {
    let key = "Item(val.id && val.id == obj.id)";
    let mut ctx = json!({});
    for v in [
        json!({"id": 1, "a": 1}),
        json!({"id": "1", "b": 2}),
        json!({"id": 2, "c": 3}),
        json!({"id": null, "d": 4}),
        json!({"id": null, "e": 5}),
    ] {
        merge_entry_context(&mut ctx, key, v).expect("merges");
    }
    // "1" == 1 in JavaScript: the second write updated the first item; null ids never match
    // (`val.id &&` is false), so both null items were appended.
    assert_eq!(
        ctx["Item"],
        json!([{"id": "1", "a": 1, "b": 2}, {"id": 2, "c": 3}, {"id": null, "d": 4}, {"id": null, "e": 5}])
    );
    // The plain string scan must not decide past an item JavaScript would convert: "7" finds
    // the numeric 7 after string ids that differ; empty and false ids never match.
    let mut ctx =
        json!({"Item": [{"id": "a"}, {"id": ""}, {"id": false}, {"id": 7}, {"id": "7", "x": 0}]});
    merge_entry_context(&mut ctx, key, json!({"id": "7", "y": 1})).expect("merges");
    assert_eq!(
        ctx["Item"],
        json!([{"id": "a"}, {"id": ""}, {"id": false}, {"id": "7", "y": 1}, {"id": "7", "x": 0}])
    );
    merge_entry_context(&mut ctx, key, json!({"id": "a", "z": 2})).expect("merges");
    assert_eq!(ctx["Item"][0], json!({"id": "a", "z": 2}));
    let mut ctx = json!({});
    let key = "Account(val.Email.Address && val.Email.Address === obj.Email.Address)";
    merge_entry_context(&mut ctx, key, json!({"Email": {"Address": "a@x"}, "n": 1}))
        .expect("merges");
    merge_entry_context(&mut ctx, key, json!({"Email": {"Address": "a@x"}, "m": 2}))
        .expect("merges");
    merge_entry_context(&mut ctx, key, json!({"Email": {"Address": "b@x"}})).expect("merges");
    assert_eq!(
        ctx["Account"],
        json!([{"Email": {"Address": "a@x"}, "n": 1, "m": 2}, {"Email": {"Address": "b@x"}}])
    );
}

/// The usual one-object, one-string-key merge has its own code path; it must write exactly
/// what the general selector evaluation writes, whatever is already stored at the path.
#[test]
fn string_key_merges_agree_with_the_general_selector() {
    let fast = "P.Q(val.id && val.id == obj.id)";
    let general = "P.Q(obj.id == val.id)"; // not key-field shaped: JavaScript decides
    let starts = [
        json!({}),
        json!({"P": null}),
        json!({"P": {"Q": null}}),
        json!({"P": {"Q": "text"}}),
        json!({"P": {"Q": {"id": "a", "n": 1, "keep": true}}}),
        json!({"P": {"Q": {"id": "b", "n": 1}}}),
        json!({"P": {"Q": {"n": 1}}}),
        json!({"P": {"Q": [{"id": "a", "n": 1}, {"id": "b", "n": 2}]}}),
        json!({"P": {"Q": [{"id": "b", "n": 1}]}}),
        json!({"P": {"Q": ["x", {"id": null}, {"id": false}, {"id": "a", "d": {"k": 1}}]}}),
        json!({"P": [{"other": 1}, {"Q": {"id": "a"}}]}),
        json!({"P": "scalar"}),
        // The wanted id under another key must not match; a numeric id is left to JavaScript.
        json!({"P": {"Q": [{"name": "a", "id": "b"}, {"id": "a", "name": "z"}]}}),
        json!({"P": {"Q": [{"x": "a", "id": 5}, {"y": true, "id": "a"}]}}),
        json!({"P": {"Q": [{"k1": 1, "k2": 2, "k3": 3, "k4": 4, "k5": 5, "k6": 6, "k7": 7, "k8": "a", "id": "a"}]}}),
    ];
    let writes = [
        json!({"id": "a", "n": 9, "d": {"j": 2}}),
        json!({"id": "c"}),
        json!({"id": "a"}),
    ];
    for start in &starts {
        for w in &writes {
            let mut a = start.clone();
            let mut b = start.clone();
            let (ra, rb) = (
                merge_entry_context(&mut a, fast, w.clone()),
                merge_entry_context(&mut b, general, w.clone()),
            );
            // A text where an object must be (`{"P": "scalar"}`) is refused by both forms.
            assert_eq!(ra.is_ok(), rb.is_ok(), "start {start}, write {w}");
            if ra.is_err() {
                assert_eq!((&a, &b), (start, start), "a refused merge changes nothing");
                continue;
            }
            assert_eq!(a, b, "start {start}, write {w}");
            // And a second write of the same object updates in place in both.
            merge_entry_context(&mut a, fast, w.clone()).expect("fast form merges");
            merge_entry_context(&mut b, general, w.clone()).expect("general form merges");
            assert_eq!(a, b, "second write; start {start}, write {w}");
        }
    }
}

/// An intermediate that is not an object (nor a list ending in one) is never replaced by a
/// merge: the write is refused, naming the path, and the context is unchanged.
#[test]
fn merges_never_replace_a_stored_value_on_the_way() {
    for start in [
        json!({"SIGNL4": [{"AlertCreated": {"eventId": "a"}}, 5]}),
        json!({"SIGNL4": "text"}),
        json!({"SIGNL4": {"Alert": 3}}),
    ] {
        let mut ctx = start.clone();
        let key = if start["SIGNL4"].is_object() {
            "SIGNL4.Alert.Created(val.eventId && val.eventId == obj.eventId)"
        } else {
            "SIGNL4.AlertCreated(val.eventId && val.eventId == obj.eventId)"
        };
        let err = merge_entry_context(&mut ctx, key, json!({"eventId": "b"})).expect_err("refused");
        assert!(
            err.message
                .ends_with("; writing under it would replace what is stored")
                && err.message.starts_with("'SIGNL4"),
            "{err}"
        );
        assert_eq!(ctx, start);
    }
    // Objects, lists ending in an object and null are written into as before.
    let mut ctx = json!({"SIGNL4": [{"x": 1}, {"y": 2}], "Other": null});
    merge_entry_context(&mut ctx, "SIGNL4.AlertCreated", json!({"eventId": "c"})).expect("merge");
    merge_entry_context(&mut ctx, "Other.Key", json!(1)).expect("merge");
    assert_eq!(
        ctx,
        json!({"SIGNL4": [{"x": 1}, {"y": 2, "AlertCreated": {"eventId": "c"}}], "Other": {"Key": 1}})
    );
}
