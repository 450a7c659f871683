//! Generated inputs (proptest) for the DT language and the context merge:
//!
//! * the built-in selector evaluator agrees with QuickJS on every expression of its subset it
//!   accepts (it may decline, never disagree);
//! * no DT path, `${}` template, selector or `EntryContext` key makes evaluation panic;
//! * a key-field merge (`Prefix(val.K && val.K == obj.K)`) is idempotent, and a failed merge
//!   leaves the context unchanged.
//!
//! Failures shrink to a minimal input; proptest keeps it in `proptest-regressions/` so the case
//! is replayed on every later run.

use proptest::prelude::*;
use serde_json::{json, Value};
use xsoar_context::js::{eval_js_engine_only, eval_js_fast_only};
use xsoar_context::{eval_path, eval_path_on, interpolate, merge_entry_context, Scope};

/// JSON values of the kinds selectors meet: strings that look like numbers, booleans and
/// blanks, numbers, nested objects and lists.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(|n| json!(n)),
        prop_oneof![Just(0.5), Just(-2.25), Just(1e21), Just(3.0)].prop_map(|f| json!(f)),
        prop_oneof![
            Just(""),
            Just("3"),
            Just(" 12 "),
            Just("1e3"),
            Just("0x10"),
            Just("abc"),
            Just("ABC"),
            Just("true"),
            Just("null"),
            Just("NaN"),
            Just("Infinity"),
            Just("é😀"),
            Just("e-1"),
        ]
        .prop_map(|s| json!(s)),
        "[a-c0-9 ]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop_oneof![Just("a"), Just("b"), Just("id")], inner), 0..4)
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
        ]
    })
}

/// Expressions of the fast evaluator's subset (and a little beyond: the evaluator must decline
/// what it does not model, not guess).
fn js_expr() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        prop_oneof![Just("val"), Just("obj")].prop_flat_map(|p| {
            prop_oneof![
                Just("a"),
                Just("b"),
                Just("id"),
                Just("length"),
                Just("missing")
            ]
            .prop_map(move |f| format!("{p}.{f}"))
        }),
        prop_oneof![Just("val"), Just("obj")].prop_map(str::to_owned),
        prop_oneof![
            Just("val.a.b"),
            Just("val['a']"),
            Just("val.b[0]"),
            Just("obj[\"id\"]")
        ]
        .prop_map(str::to_owned),
        prop_oneof![
            Just("0"),
            Just("1"),
            Just("3"),
            Just("-1"),
            Just("2.5"),
            Just("1e3"),
            Just(".5"),
            Just("'3'"),
            Just("''"),
            Just("' 12 '"),
            Just("'abc'"),
            Just("\"e-1\""),
            Just("'\\n'"),
            Just("true"),
            Just("false"),
            Just("null"),
            Just("undefined"),
            Just("NaN"),
            Just("Infinity"),
        ]
        .prop_map(str::to_owned),
    ];
    atom.prop_recursive(4, 24, 2, |inner| {
        let op = prop_oneof![
            Just("=="),
            Just("!="),
            Just("==="),
            Just("!=="),
            Just("<"),
            Just(">"),
            Just("<="),
            Just(">="),
            Just("&&"),
            Just("||"),
            Just("+"),
        ];
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(l, o, r)| format!("{l} {o} {r}")),
            inner.clone().prop_map(|e| format!("!{e}")),
            inner.clone().prop_map(|e| format!("-{e}")),
            inner.prop_map(|e| format!("({e})")),
        ]
    })
}

/// DT-ish text: paths, selectors, indexes, transformers, braces and quotes in any order.
fn dt_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("A"),
        Just("."),
        Just("B"),
        Just("("),
        Just(")"),
        Just("["),
        Just("]"),
        Just("=val"),
        Just("val.x"),
        Just(" == "),
        Just("'q'"),
        Just("\""),
        Just("${"),
        Just("}"),
        Just("{"),
        Just("&&"),
        Just("0"),
        Just("-1"),
        Just("incident"),
        Just("inputs"),
        Just(" "),
        Just("\\"),
        Just("`"),
        Just("é"),
        Just("true"),
    ];
    prop_oneof![
        prop::collection::vec(piece, 0..16).prop_map(|p| p.concat()),
        any::<String>(),
    ]
}

fn context() -> Value {
    json!({
        "A": {"B": [1, {"x": "q"}], "C": "text"},
        "List": [{"id": 1, "a": "x"}, {"id": "1", "a": "y"}, {"a": null}],
        "Empty": {},
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The fast evaluator either declines or gives exactly QuickJS's answer (value or throw).
    #[test]
    fn the_fast_evaluator_agrees_with_quickjs(
        expr in js_expr(),
        val in json_value(),
        obj in json_value(),
    ) {
        let b: [(&str, &Value); 2] = [("val", &val), ("obj", &obj)];
        if let Some(fast) = eval_js_fast_only(&expr, &b) {
            let engine = eval_js_engine_only(&expr, &b);
            match (&fast, &engine) {
                (Ok(f), Ok(e)) => prop_assert_eq!(f, e, "{} with val={} obj={}", expr, val, obj),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(
                    false,
                    "{expr} with val={val} obj={obj}: fast {fast:?}, QuickJS {engine:?}"
                ),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any DT text as a path, on the context or on a value: a result or an error, no panic.
    #[test]
    fn dt_paths_never_panic(expr in dt_text(), value in json_value()) {
        let ctx = context();
        let incident = json!({"name": "x", "CustomFields": {"a": 1}});
        let scope = Scope::new(&ctx).with_root("incident", &incident);
        let _ = eval_path(&expr, &scope);
        let _ = eval_path_on(&expr, &value);
        let _ = interpolate(&expr, &scope);
        let _ = interpolate(&format!("pre ${{{expr}}} post"), &scope);
    }

    /// Any `EntryContext` key: a merge or an error; an error leaves the context unchanged.
    #[test]
    fn merges_never_panic_and_failures_change_nothing(key in dt_text(), value in json_value()) {
        let mut ctx = context();
        let before = ctx.clone();
        if merge_entry_context(&mut ctx, &key, value).is_err() {
            prop_assert_eq!(&ctx, &before, "failed merge of {:?} changed the context", key);
        }
        prop_assert!(ctx.is_object());
    }

    /// Merging the same items twice under a key-field key leaves what merging once leaves.
    #[test]
    fn key_field_merges_are_idempotent(
        start in prop_oneof![Just(Value::Null), json_value()],
        items in prop::collection::vec(
            (prop_oneof![Just(json!("e-1")), Just(json!("e-2")), Just(json!(7)), Just(json!("7"))], json_value()),
            1..4,
        ),
        as_list in any::<bool>(),
    ) {
        let key = "S.Alert(val.eventId && val.eventId == obj.eventId)";
        let items: Vec<Value> = items
            .into_iter()
            .map(|(id, extra)| json!({"eventId": id, "extra": extra}))
            .collect();
        let value = if as_list { Value::Array(items.clone()) } else { items[0].clone() };
        let mut ctx = json!({});
        if !start.is_null() {
            ctx["S"] = json!({"Alert": start});
        }
        merge_entry_context(&mut ctx, key, value.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let once = ctx.clone();
        merge_entry_context(&mut ctx, key, value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ctx, once);
    }
}
