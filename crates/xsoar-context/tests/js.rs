//! JavaScript: the fast evaluator agrees with QuickJS; budgets; `eval_js` and `js_truthy`.

use serde_json::{json, Value};
use xsoar_context::js::{eval_js_engine_only, eval_js_fast_only};
use xsoar_context::{eval_js, js_truthy};

fn bindings() -> (Value, Value) {
    let val = json!({
        "s3": "3", "n3": 3, "empty": "", "zero": 0, "nul": null, "t": true, "f": false,
        "sp": " 12 ", "exp": "1e3", "hex": "0x10", "txt": "abc", "ten": "10", "nine": "9",
        "neg": -2.5, "big": 9007199254740993u64, "list": [1, 2], "obj": {"a": 1},
        "uni": "é😀", "key with space": "ks", "eventId": "e-1", "Score": 2, "inf": "Infinity",
        "dot": "1.", "lead": ".5", "under": "1_0", "nan": "NaN", "ws": "\t\n 7 \u{a0}"
    });
    let obj = json!({"eventId": "e-1", "id": 1, "s1": "1", "name": "X"});
    (val, obj)
}

/// Every expression: the fast evaluator must either decline (`None`) or agree exactly with
/// QuickJS; `covered` says whether it is expected to handle the expression itself.
fn check(rows: &[(&str, bool)]) {
    let (val, obj) = bindings();
    let b: [(&str, &Value); 2] = [("val", &val), ("obj", &obj)];
    for (expr, covered) in rows {
        let engine = eval_js_engine_only(expr, &b);
        let fast = eval_js_fast_only(expr, &b);
        assert_eq!(
            fast.is_some(),
            *covered,
            "{expr}: fast-path coverage (engine says {engine:?})"
        );
        if let Some(fast) = fast {
            match (&fast, &engine) {
                (Ok(f), Ok(e)) => assert_eq!(f, e, "{expr}: fast {f} vs QuickJS {e}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{expr}: fast {fast:?} vs QuickJS {engine:?}"),
            }
        }
        // And the public entry point gives the engine's answer either way.
        match (eval_js(expr, &b), &engine) {
            (Ok(a), Ok(e)) => assert_eq!(&a, e, "{expr}"),
            (Err(_), Err(_)) => {}
            (a, e) => panic!("{expr}: eval_js {a:?} vs QuickJS {e:?}"),
        }
    }
}

#[test]
fn loose_equality_agrees() {
    check(&[
        ("val.s3 == 3", true),
        ("val.s3 == val.n3", true),
        ("val.n3 == '3.0'", true),
        ("null == undefined", true),
        ("val.nul == undefined", true),
        ("val.nul == val.missing", true),
        ("val.nul == 0", true),
        ("val.missing == 0", true),
        ("val.empty == 0", true),
        ("val.empty == false", true),
        ("val.zero == false", true),
        ("val.t == 1", true),
        ("val.t == '1'", true),
        ("val.f == ''", true),
        ("val.sp == 12", true),
        ("val.ws == 7", true),
        ("val.exp == 1000", true),
        ("val.dot == 1", true),
        ("val.lead == 0.5", true),
        ("val.under == 10", true),
        ("val.inf == Infinity", true),
        ("val.nan == NaN", true),
        ("NaN != NaN", true),
        ("val.txt == 'abc'", true),
        ("val.txt != 'abd'", true),
        ("val.big == 9007199254740992", true),
        ("val.obj == val.obj", true),
        ("val.obj == obj", true),
        ("val.list == val.list", true),
        // Object-to-primitive conversions and hex strings are QuickJS's.
        ("val.hex == 16", false),
        ("val.list == '1,2'", false),
        ("val.obj == '[object Object]'", false),
    ]);
}

#[test]
fn strict_equality_agrees() {
    check(&[
        ("val.s3 === 3", true),
        ("val.n3 === 3", true),
        ("'a' !== 'a'", true),
        ("val.txt !== 'abc'", true),
        ("null === undefined", true),
        ("val.nul === null", true),
        ("val.missing === undefined", true),
        ("val.zero === -0", true),
        ("val.obj === val.obj", true),
        ("val.eventId === obj.eventId", true),
        ("val.list !== val.list", true),
    ]);
}

#[test]
fn relational_and_logic_agree() {
    check(&[
        ("val.ten < val.nine", true),
        ("val.ten < 9", true),
        ("val.Score >= 2", true),
        ("val.Score > '1'", true),
        ("val.nul >= 0", true),
        ("val.missing >= 0", true),
        ("val.txt > 5", true),
        ("val.txt <= 'abc'", true),
        ("val.uni > 'z'", true),
        ("'\u{ff61}' < '\u{1F600}'", true),
        ("val.neg < -2", true),
        ("-val.s3 == -3", true),
        ("+val.s3 === 3", true),
        ("+val.sp", true),
        ("!val.empty", true),
        ("!!val.list", true),
        ("!val.obj", true),
        ("val.eventId && val.eventId == obj.eventId", true),
        ("val.missing && val.missing == obj.missing", true),
        ("val.zero || val.empty || 'fallback'", true),
        ("val.zero && val.boom.x", true),
        ("val.t || val.boom.x", true),
        ("(val.n3 > 1) && (val.n3 < 5 || val.t)", true),
        ("val.list.length == 2", true),
        ("val.list[1]", true),
        ("val.list[5]", true),
        ("val.uni.length", true),
        ("val['key with space'] == \"ks\"", true),
        ("val.obj.a", true),
        ("val.txt.length", true),
        ("1.5e2 == 150", true),
        ("'esc\\'aped\\n' == \"esc'aped\\n\"", true),
        ("'\\u00e9' == 'é'", true),
        // Reading through undefined / null throws in both.
        ("val.missing.x", true),
        ("val.nul.x == 1", true),
        // Outside the subset: calls, arithmetic, typeof, ternaries, prototype members.
        ("val.txt.indexOf('b') > 0", false),
        ("val.n3 + 1", false),
        ("typeof val.n3 === 'number'", false),
        ("val.t ? 1 : 2", false),
        ("val.obj.toString", false),
        ("val.txt.charAt", false),
        ("val.list.map", false),
        ("0x10 == 16", false),
        ("010 == 8", false),
    ]);
}

/// Corners found by the generated differential test (`tests/properties.rs`).
#[test]
fn corners_found_by_generated_expressions() {
    // `--` is a decrement (a syntax error on a literal), not two minus signs.
    check(&[
        ("--val.n3", false),
        ("- -val.n3", true),
        ("++val.n3", false),
    ]);
    // Two empty arrays are two objects: equal only to themselves.
    let (e1, e2) = (json!([]), json!([]));
    let b: [(&str, &Value); 2] = [("val", &e1), ("obj", &e2)];
    for expr in ["val == obj", "val === obj", "val == val", "obj != val"] {
        assert_eq!(
            eval_js_fast_only(expr, &b).and_then(Result::ok),
            eval_js_engine_only(expr, &b).ok(),
            "{expr}"
        );
    }
    assert_eq!(
        eval_js_fast_only("val == obj", &b).and_then(Result::ok),
        Some(json!(false))
    );
    // A value handed back whole is written as JavaScript writes its numbers.
    let nested = json!([[3.0], {"n": 9007199254740993u64}, 2.5]);
    let b: [(&str, &Value); 1] = [("val", &nested)];
    let engine = eval_js_engine_only("val", &b).ok();
    assert_eq!(engine, Some(json!([[3], {"n": 9007199254740992u64}, 2.5])));
    assert_eq!(eval_js("(val)", &b).ok(), engine);
    let fast = eval_js_fast_only("val", &b).and_then(Result::ok);
    assert!(fast.is_none() || fast == engine, "{fast:?}");
}

#[test]
fn standard_merge_keys_never_need_quickjs() {
    // The selectors of §4.1's CommandResults and indicator keys: all in the fast subset, with
    // items that have, lack, or mismatch the key fields.
    let selectors = [
        "val.eventId && val.eventId == obj.eventId",
        "val.eventId == obj.eventId",
        "val.Indicator && val.Indicator == obj.Indicator && val.Vendor == obj.Vendor && val.Type == obj.Type",
        "val.Address && val.Address == obj.Address",
        "val.MD5 && val.MD5 == obj.MD5 || val.SHA1 && val.SHA1 == obj.SHA1 || val.SHA256 && val.SHA256 == obj.SHA256 || val.SSDeep && val.SSDeep == obj.SSDeep",
        "val.ID && val.ID == obj.ID && val.Vendor == obj.Vendor",
        "val.Email.Address && val.Email.Address == obj.Email.Address",
        "val.value && val.value == obj.value",
        "val.id === obj.id",
    ];
    let items = [
        json!({"eventId": "e-1", "Indicator": "i", "Vendor": "V", "Type": "ip", "Address": "a", "SHA256": "s",
               "ID": 7, "Email": {"Address": "x@y"}, "value": "v", "id": 1}),
        json!({"eventId": "e-2", "MD5": "m", "ID": "7", "Email": {"Address": "z@y"}, "id": "1"}),
        json!({"other": true, "Email": {}}),
    ];
    let obj = json!({"eventId": "e-1", "Indicator": "i", "Vendor": "V", "Type": "ip", "Address": "a",
                     "SHA256": "s", "ID": 7, "Email": {"Address": "x@y"}, "value": "v", "id": 1});
    for sel in selectors {
        for item in &items {
            let b: [(&str, &Value); 2] = [("val", item), ("obj", &obj)];
            let fast = eval_js_fast_only(sel, &b);
            assert!(fast.is_some(), "{sel} on {item} fell back to QuickJS");
            let (fast, engine) = (fast.and_then(Result::ok), eval_js_engine_only(sel, &b).ok());
            assert_eq!(fast, engine, "{sel} on {item}");
        }
    }
}

#[test]
fn eval_js_results_and_errors() {
    let v = json!({"value": "a b", "n": [3, 1, 2], "o": {"k": "v"}});
    let b: [(&str, &Value); 1] = [("val", &v)];
    let rows: &[(&str, Value)] = &[
        ("encodeURIComponent(val.value)", json!("a%20b")),
        ("val.n.slice().sort()", json!([1, 2, 3])),
        ("({\"k2\": val.o.k + '!'})", json!({"k2": "v!"})),
        ("{\"k2\": val.o.k}", json!({"k2": "v"})),
        ("val.n.length * 2", json!(6)),
        ("0.1 + 0.2", json!(0.30000000000000004)),
        ("val.missing", json!(null)),
        ("var x = 2; x * val.n[0]", json!(6)),
        ("function f(a) { return a + 1 } f(val.n[2])", json!(3)),
        ("'x'.repeat(3)", json!("xxx")),
        ("[1, 'a', null, {b: undefined}]", json!([1, "a", null, {}])),
        ("NaN", json!(null)),
        ("1e21", json!(1e21)),
        ("-0", json!(0)),
        ("val.n[0] === 3", json!(true)),
    ];
    for (expr, expected) in rows {
        assert_eq!(
            &eval_js(expr, &b).unwrap_or_else(|e| panic!("{expr}: {e}")),
            expected,
            "{expr}"
        );
    }
    // Custom binding names (the DT transformer binds several).
    let a = json!(2);
    let c = json!("x");
    assert_eq!(
        eval_js("left * 2 + right", &[("left", &a), ("right", &c)]).ok(),
        Some(json!("4x"))
    );
    assert_eq!(
        eval_js("left == 2 && right == 'x'", &[("left", &a), ("right", &c)]).ok(),
        Some(json!(true))
    );

    let errors: &[(&str, &str)] = &[
        ("val.missing.x", "TypeError"),
        ("throw new Error('boom')", "boom"),
        ("val.value ==", "SyntaxError"),
        ("nope + 1", "ReferenceError"),
        ("JSON.parse('{')", "SyntaxError"),
        (
            "(function f() { return f() })()",
            "call stack size exceeded",
        ),
    ];
    for (expr, fragment) in errors {
        let e = eval_js(expr, &b).expect_err(expr);
        assert_eq!(e.expression, *expr);
        assert!(e.message.contains(fragment), "{expr}: {e}");
    }
}

#[test]
fn budgets_turn_runaway_scripts_into_errors() {
    let v = json!(1);
    let b: [(&str, &Value); 1] = [("val", &v)];
    let started = std::time::Instant::now();
    let e = eval_js("while (true) {}", &b).expect_err("infinite loop");
    assert!(e.message.contains("time budget"), "{e}");
    let e = eval_js(
        "(function(){ var a = []; while (true) a.push('xxxxxxxxxxxxxxxx' + a.length); })()",
        &b,
    )
    .expect_err("memory bomb");
    assert!(
        e.message.contains("memory limit") || e.message.contains("time budget"),
        "{e}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // The engine is rebuilt and usable afterwards.
    assert_eq!(eval_js("val + 1", &b).ok(), Some(json!(2)));
    assert_eq!(eval_js("val.toFixed(1)", &b).ok(), Some(json!("1.0")));
}

#[test]
fn javascript_runs_on_any_thread() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let v = json!({"i": i});
                eval_js("'t' + val.i.toString()", &[("val", &v)])
            })
        })
        .collect();
    let got: Vec<Value> = handles
        .into_iter()
        .filter_map(|h| h.join().ok())
        .filter_map(Result::ok)
        .collect();
    assert_eq!(
        got,
        vec![json!("t0"), json!("t1"), json!("t2"), json!("t3")]
    );
}

#[test]
fn truthiness() {
    let rows: &[(Value, bool)] = &[
        (json!(null), false),
        (json!(false), false),
        (json!(0), false),
        (json!(-0.0), false),
        (json!(""), false),
        (json!(true), true),
        (json!(1), true),
        (json!("0"), true),
        (json!("false"), true),
        (json!(" "), true),
        (json!([]), true),
        (json!({}), true),
    ];
    for (v, expected) in rows {
        assert_eq!(js_truthy(v), *expected, "{v}");
        let via_engine = eval_js_engine_only("!!val", &[("val", v)]).ok();
        assert_eq!(via_engine, Some(Value::Bool(*expected)), "QuickJS on {v}");
    }
}
