//! DT path evaluation (§3.2–§3.4): worked examples, grammar, scopes, limits.

use serde_json::{json, Value};
use xsoar_context::{eval_path, eval_path_on, DtError, Scope};

fn example_context() -> Value {
    json!({
        "SIGNL4": {"AlertCreated": [{"eventId": "e-1", "title": "disk"}, {"eventId": "e-2", "title": "cpu"}]},
        "DBotScore": [
            {"Indicator": "8.8.8.8", "Vendor": "A", "Score": 1, "Type": "ip"},
            {"Indicator": "1.2.3.4", "Vendor": "B", "Score": 3, "Type": "ip"}
        ],
        "Endpoint": {"Hostname": "ws-01", "IPAddress": ["10.0.0.5", "10.0.0.6"]}
    })
}

/// Evaluates every `(expression, expected)` row against `ctx`; `None` = nothing.
fn check(ctx: &Value, rows: &[(&str, Option<Value>)]) {
    let scope = Scope::new(ctx);
    for (expr, expected) in rows {
        let got = eval_path(expr, &scope).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(&got, expected, "expression {expr}");
    }
}

fn check_err(ctx: &Value, rows: &[(&str, &str)]) {
    let scope = Scope::new(ctx);
    for (expr, fragment) in rows {
        match eval_path(expr, &scope) {
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.contains(fragment),
                    "{expr}: error '{text}' lacks '{fragment}'"
                );
                assert!(text.starts_with("invalid DT expression '"), "{text}");
            }
            Ok(v) => panic!("{expr}: expected an error, got {v:?}"),
        }
    }
}

#[test]
fn worked_examples_of_section_3_4() {
    let ctx = example_context();
    check(
        &ctx,
        &[
            ("SIGNL4.AlertCreated.eventId", Some(json!(["e-1", "e-2"]))),
            ("SIGNL4.AlertCreated.[0].eventId", Some(json!("e-1"))),
            (
                "SIGNL4.AlertCreated(val.title == 'cpu').eventId",
                Some(json!("e-2")),
            ),
            (
                "DBotScore(val.Score >= 2).Indicator",
                Some(json!("1.2.3.4")),
            ),
            ("DBotScore.Vendor", Some(json!(["A", "B"]))),
            ("Endpoint.Hostname", Some(json!("ws-01"))),
            ("Endpoint.IPAddress.[1]", Some(json!("10.0.0.6"))),
            ("Endpoint.OS", None),
            (
                "DBotScore.Indicator=val.toUpperCase()",
                Some(json!(["8.8.8.8", "1.2.3.4"])),
            ),
            (
                "Endpoint(val.Hostname == 'ws-01')",
                Some(ctx["Endpoint"].clone()),
            ),
        ],
    );
}

#[test]
fn names_indexes_and_ranges() {
    let ctx = json!({
        "inputs": {"Report Format": "pdf"},
        "HelloWorld": {"Scan": {"entity": {"entity-id": "x-1"}}},
        "L": [10, 20, 30, 40],
        "One": ["only"],
        "Empty": [],
        "Nul": null,
        "Obj": {"a": 1},
        "dotted.key": "d",
        "Nested": [[{"v": 1}, {"v": 2}], [{"v": 3}]],
        "Lists": [{"t": ["a", "b"]}, {"t": ["c"]}, {"t": null}, {"u": 1}]
    });
    check(
        &ctx,
        &[
            ("inputs.Report Format", Some(json!("pdf"))),
            (" inputs . Report Format ", Some(json!("pdf"))),
            ("HelloWorld.Scan.entity.entity-id", Some(json!("x-1"))),
            ("L.[0]", Some(json!(10))),
            ("L[1]", Some(json!(20))),
            ("L.[-1]", Some(json!(40))),
            ("L.[4]", None),
            // Range end is inclusive (U6).
            ("L.[0:2]", Some(json!([10, 20, 30]))),
            ("L.[2:]", Some(json!([30, 40]))),
            ("L.[:1]", Some(json!([10, 20]))),
            ("L.[3:9]", Some(json!(40))),
            ("L.[3:1]", None),
            // `[0]` of a non-list is the value itself.
            ("Obj.[0]", Some(json!({"a": 1}))),
            ("Obj.[0].a", Some(json!(1))),
            ("Obj.[1]", None),
            ("Obj.[0:0]", Some(json!({"a": 1}))),
            // Single-element lists unwrap, empty lists and null are nothing.
            ("One", Some(json!("only"))),
            ("Empty", None),
            ("Nul", None),
            ("Nul.x", None),
            ("Missing.deeper.still", None),
            ("L.x", None),
            ("Obj.a.b", None),
            // Bracketed quoted names reach keys with dots.
            ("['dotted.key']", Some(json!("d"))),
            // Mapping flattens one level per step, across nested lists, dropping missing.
            ("Nested.v", Some(json!([1, 2, 3]))),
            ("Lists.t", Some(json!(["a", "b", "c"]))),
            ("Lists.t.[2]", Some(json!("c"))),
            ("Lists.u", Some(json!(1))),
            ("${L.[1]}", Some(json!(20))),
            ("  ${ Obj.a }  ", Some(json!(1))),
            ("", None),
        ],
    );
}

#[test]
fn selectors() {
    let ctx = json!({
        "Certs": [
            {"SubjectName": "abcde.com", "ValidTo": "2030"},
            {"SubjectName": "x.org", "ValidTo": "2031"},
            {"Other": 1}
        ],
        "Scan": [{"status": "COMPLETE", "scan_id": 1}, {"status": "RUNNING", "scan_id": 2}, {"status": "QUEUED", "scan_id": 3}],
        "modules": [{"brand": "SIGNL4", "state": "active"}, {"brand": "VT", "state": "disabled"}],
        "Nums": [1, "2", 3, null, "x"],
        "Scalar": "hello",
        "Paren": [{"n": "a)b"}, {"n": "c"}]
    });
    check(
        &ctx,
        &[
            // A selector tests one field and a following name returns another.
            (
                "Certs(val.SubjectName.indexOf('de') > 0).ValidTo",
                Some(json!("2030")),
            ),
            (
                "Scan(val.status !== 'COMPLETE').scan_id",
                Some(json!([2, 3])),
            ),
            (
                "Scan(val.status != 'COMPLETE' && val.scan_id > 2).scan_id",
                Some(json!(3)),
            ),
            ("Scan(val.status == 'NONE').scan_id", None),
            (
                "modules(val.brand == 'SIGNL4' && val.state == 'active').brand",
                Some(json!("SIGNL4")),
            ),
            // Loose equality: "2" == 2.
            ("Nums(val == 2)", Some(json!("2"))),
            ("Nums(val >= 2)", Some(json!(["2", 3]))),
            ("Nums(typeof val === 'string')", Some(json!(["2", "x"]))),
            // A scalar is a one-element list for a selector.
            ("Scalar(val.length == 5)", Some(json!("hello"))),
            ("Scalar(val.length == 4)", None),
            // Parentheses and quotes inside a selector.
            ("Paren(val.n == 'a)b').n", Some(json!("a)b"))),
            (
                "Paren((val.n == \"c\") || (val.n == 'z')).n",
                Some(json!("c")),
            ),
            (
                "Scan(val.status.toLowerCase() == 'running')",
                Some(json!({"status": "RUNNING", "scan_id": 2})),
            ),
            // Index after a selector picks from the kept elements.
            ("Scan(val.scan_id > 1).[1].status", Some(json!("QUEUED"))),
            // Two selectors in a row.
            (
                "Scan(val.scan_id > 1)(val.scan_id < 3).status",
                Some(json!("RUNNING")),
            ),
        ],
    );
}

#[test]
fn a_throwing_selector_drops_the_element() {
    let ctx = json!({"Certs": [
        {"SubjectName": "abcde.com", "ValidTo": "2030"},
        {"ValidTo": "2031"},
        {"SubjectName": null, "ValidTo": "2032"}
    ]});
    // `val.SubjectName.indexOf` throws on elements 2 and 3 (undefined / null): both are false.
    check(
        &ctx,
        &[
            (
                "Certs(val.SubjectName.indexOf('de') > 0).ValidTo",
                Some(json!("2030")),
            ),
            // Fast-path throw (member of undefined) counts as false too.
            (
                "Certs(val.SubjectName.length > 3).ValidTo",
                Some(json!("2030")),
            ),
            ("Certs(val.Nope.x == 1)", None),
        ],
    );
}

#[test]
fn mutators() {
    let ctx = json!({
        "MaxMind": {"Organization": "ACME Corp"},
        "inputs": {"value": "a b&c"},
        "Items": [{"value": "1.1.1.1", "indicator_type": "IP", "junk": 1}, {"value": "x.com", "indicator_type": "Domain"}],
        "N": [1, 2, 3]
    });
    check(
        &ctx,
        &[
            (
                "MaxMind.Organization=val.toLowerCase()",
                Some(json!("acme corp")),
            ),
            (
                "inputs.value=encodeURIComponent(val)",
                Some(json!("a%20b%26c")),
            ),
            ("N=val * 10", Some(json!([10, 20, 30]))),
            ("N(val > 1)=val + 1", Some(json!([3, 4]))),
            (
                "Items={\"v\": val.value}",
                Some(json!([{"v": "1.1.1.1"}, {"v": "x.com"}])),
            ),
            // A mutator yielding undefined drops the element; one that throws too.
            ("Items=val.nope", None),
            ("Items=val.nope.deeper", None),
            ("Missing=val + 1", None),
            // The fast evaluator handles simple mutators.
            ("Items=val.indicator_type", Some(json!(["IP", "Domain"]))),
        ],
    );
}

#[test]
fn paths_relative_to_a_value() {
    let raw = json!([
        {"value": "1.1.1.1", "indicator_type": "IP", "score": 2},
        {"value": "x.com", "indicator_type": "Domain", "score": 0}
    ]);
    let rows: &[(&str, &Value, Option<Value>)] = &[
        (".", &raw, Some(raw.clone())),
        ("", &raw, Some(raw.clone())),
        (
            ".={\"value\": val.value, \"indicator_type\": val.indicator_type}",
            &raw,
            Some(json!([
                {"value": "1.1.1.1", "indicator_type": "IP"},
                {"value": "x.com", "indicator_type": "Domain"}
            ])),
        ),
        ("value", &raw, Some(json!(["1.1.1.1", "x.com"]))),
        ("(val.score > 1).value", &raw, Some(json!("1.1.1.1"))),
        ("[1].value", &raw, Some(json!("x.com"))),
    ];
    for (expr, value, expected) in rows {
        assert_eq!(&eval_path_on(expr, value).unwrap(), expected, "{expr}");
    }
    let contents = json!({"Contents": {"data": [{"id": 1, "x": "a"}, {"id": 2, "x": "b"}]}});
    assert_eq!(
        eval_path_on("Contents.data={\"id\": val.id}", &contents).unwrap(),
        Some(json!([{"id": 1}, {"id": 2}]))
    );
    assert_eq!(
        eval_path_on(".=val.Contents.data.length", &contents).unwrap(),
        Some(json!(2))
    );
    let element = json!({"Score": 3, "Indicator": "1.2.3.4"});
    assert_eq!(eval_path_on("Score", &element).unwrap(), Some(json!(3)));
    assert_eq!(eval_path_on("Nope", &element).unwrap(), None);
}

#[test]
fn scope_roots_layers_and_view() {
    let incident = json!({"id": "7", "name": "Disk full", "severity": 3, "helloworldid": "h-1"});
    let inputs = json!({"Hostname": "ws-02", "List": ["a", "b"]});
    let private = json!({"A": {"B": 1}, "Only": "private", "inputs": "shadowed by the root"});
    let parent = json!({"A": {"C": 2}, "Only": "parent", "ParentOnly": true});
    let scope = Scope::new(&private)
        .with_fallback(&parent)
        .with_root("incident", &incident)
        .with_root("inputs", &inputs);
    let rows: &[(&str, Option<Value>)] = &[
        ("incident.name", Some(json!("Disk full"))),
        ("incident.helloworldid", Some(json!("h-1"))),
        ("inputs.Hostname", Some(json!("ws-02"))),
        ("inputs.List", Some(json!(["a", "b"]))),
        ("Only", Some(json!("private"))),
        ("ParentOnly", Some(json!(true))),
        // A.B only in the private layer, A.C only in the parent: both are found.
        ("A.B", Some(json!(1))),
        ("A.C", Some(json!(2))),
        ("A.D", None),
        ("incident(val.severity > 2).id", Some(json!("7"))),
    ];
    for (expr, expected) in rows {
        assert_eq!(&eval_path(expr, &scope).unwrap(), expected, "{expr}");
    }
    assert_eq!(scope.lookup("Only"), Some(&json!("private")));
    assert_eq!(scope.lookup("inputs"), Some(&inputs));
    assert_eq!(scope.lookup("nope"), None);
    let view = scope.to_value();
    assert_eq!(view["Only"], json!("private"));
    assert_eq!(view["ParentOnly"], json!(true));
    assert_eq!(view["A"], json!({"B": 1}));
    assert_eq!(view["incident"]["id"], json!("7"));
    assert_eq!(view["inputs"], inputs);
    assert_eq!(eval_path(".", &scope).unwrap(), Some(view.clone()));
    assert_eq!(eval_path("${.}", &scope).unwrap(), Some(view));
    // Later roots shadow earlier ones.
    let other = json!("x");
    let s2 = Scope::new(&parent)
        .with_root("r", &incident)
        .with_root("r", &other);
    assert_eq!(eval_path("r", &s2).unwrap(), Some(json!("x")));
}

#[test]
fn broken_expressions_are_errors_naming_the_expression() {
    let ctx = example_context();
    check_err(
        &ctx,
        &[
            (
                "DBotScore(val.Score >= ).Indicator",
                "DBotScore(val.Score >= ).Indicator",
            ),
            ("DBotScore(val.Score >= ).Indicator", "does not compile"),
            (
                "DBotScore(val.Score >= 2.Indicator",
                "'(' without matching ')'",
            ),
            ("L.[1", "'[' without matching ']'"),
            ("L.[x]", "invalid index 'x'"),
            ("L.[]", "empty index"),
            ("DBotScore()", "empty selector"),
            ("DBotScore(true)x", "expected '.'"),
            ("DBotScore.Indicator=", "empty mutator"),
            ("DBotScore.Indicator=val.(", "mutator does not compile"),
        ],
    );
    // The offset points at the selector.
    let e: DtError = eval_path("DBotScore(val.Score >= )", &Scope::new(&ctx)).unwrap_err();
    assert_eq!(e.position, Some(9));
    assert_eq!(e.expression, "DBotScore(val.Score >= )");
    assert!(e
        .to_string()
        .starts_with("invalid DT expression 'DBotScore(val.Score >= )' at offset 9: "));
    // A broken selector is an error even where nothing would be selected.
    assert!(eval_path("Missing(val.x ==).y", &Scope::new(&ctx)).is_err());
    assert!(eval_path_on("(val.x ==)", &json!([1])).is_err());
}

#[test]
fn infinite_loop_in_a_selector_is_a_bounded_error() {
    let ctx = example_context();
    let started = std::time::Instant::now();
    let e = eval_path(
        "DBotScore((function(){ while (true) {} })())",
        &Scope::new(&ctx),
    )
    .unwrap_err();
    assert!(e.message.contains("time budget"), "{e}");
    let e = eval_path("DBotScore(val; for (;;) {}).Indicator", &Scope::new(&ctx)).unwrap_err();
    assert!(e.message.contains("time budget"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // The engine is usable afterwards.
    assert_eq!(
        eval_path(
            "DBotScore(val.Vendor.toLowerCase() == 'b').Score",
            &Scope::new(&ctx)
        )
        .unwrap(),
        Some(json!(3))
    );
}

#[test]
fn deep_paths_and_huge_values_do_not_crash() {
    // A context 100 levels deep and a 100-segment path into it.
    let mut deep = json!("bottom");
    for _ in 0..100 {
        deep = json!({ "k": deep });
    }
    let ctx = json!({ "Deep": deep });
    let path = format!("Deep{}", ".k".repeat(100));
    assert_eq!(
        eval_path(&path, &Scope::new(&ctx)).unwrap(),
        Some(json!("bottom"))
    );
    let too_far = format!("{path}.k");
    assert_eq!(eval_path(&too_far, &Scope::new(&ctx)).unwrap(), None);
    // Lists nested 100 deep are walked without recursion.
    let mut nested = json!({"v": 1});
    for _ in 0..100 {
        nested = json!([nested]);
    }
    let ctx2 = json!({ "N": nested });
    assert_eq!(
        eval_path("N.v", &Scope::new(&ctx2)).unwrap(),
        Some(json!(1))
    );

    // A 10 MB value: one 10 MB string plus a 100k-element list.
    let big_string = "x".repeat(10 * 1024 * 1024);
    let items: Vec<Value> = (0..100_000)
        .map(|i| json!({"id": i, "name": format!("n{i}")}))
        .collect();
    let ctx3 = json!({"Big": {"s": big_string, "items": items}});
    let scope = Scope::new(&ctx3);
    let s = eval_path("Big.s", &scope).unwrap();
    assert_eq!(
        s.as_ref().and_then(Value::as_str).map(str::len),
        Some(10 * 1024 * 1024)
    );
    assert_eq!(
        eval_path("Big.items.[99999].name", &scope).unwrap(),
        Some(json!("n99999"))
    );
    assert_eq!(
        eval_path("Big.items(val.id == 54321).name", &scope).unwrap(),
        Some(json!("n54321"))
    );
    let ids = eval_path("Big.items.id", &scope).unwrap();
    assert_eq!(
        ids.as_ref().and_then(Value::as_array).map(Vec::len),
        Some(100_000)
    );

    // Over-long paths are refused with a clear error.
    let long = "a.".repeat(40_000);
    let e = eval_path(&long, &Scope::new(&ctx)).unwrap_err();
    assert!(e.message.contains("the limit is"), "{e}");
    assert!(
        e.expression.len() < 300,
        "the error keeps a short expression"
    );
    let many = "a.".repeat(2000);
    let e = eval_path(&many, &Scope::new(&ctx)).unwrap_err();
    assert!(e.message.contains("path steps"), "{e}");
}
