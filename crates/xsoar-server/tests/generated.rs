//! Generated request bodies (proptest) for every JSON endpoint: valid bodies with fields
//! removed, replaced by values of other types, or added, and bodies that are not what the
//! endpoint reads at all. Every answer follows the rules of `common::Api::send` (never a 500,
//! never a secret, no `error` key in a success) and is a 2xx or a 4xx with a title and a detail
//! that say what is wrong; the server keeps answering, and what it stored stays readable.
//!
//! One server serves all the cases of a run, so a request that broke shared state would make
//! later ones fail. Failures shrink to a minimal body.

mod common;

use axum::http::Method;
use common::{ok_json, Api, KEY, SIGNL4_YML};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use xsoar_server::ServerConfig;
use xsoar_store::Store;

/// A JSON value of any shape, with the strings and numbers request fields meet.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![Just(-1.5), Just(1e300), Just(0.0)].prop_map(|f| json!(f)),
        prop_oneof![
            Just(""),
            Just("1"),
            Just("-1"),
            Just("true"),
            Just("!Print value=x"),
            Just("${incident.name}"),
            Just("../../etc/passwd"),
            Just("<script>alert(1)</script>"),
            Just("nope"),
        ]
        .prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Valid requests: (method, path, body). `{inv}` is an existing investigation.
fn seeds(inv: &str) -> Vec<(Method, String, Value)> {
    let p = |path: &str, body: Value| (Method::POST, path.replace("{inv}", inv), body);
    vec![
        p(
            "/incident",
            json!({"name": "generated", "type": "Unclassified", "severity": 2, "details": "d",
            "labels": [{"type": "a", "value": "b"}], "CustomFields": {"f": 1}, "createInvestigation": true}),
        ),
        p(
            "/entry/execute/sync",
            json!({"investigationId": "{inv}", "data": "!Print value=hi"}),
        ),
        p(
            "/entry",
            json!({"investigationId": "{inv}", "data": "a note"}),
        ),
        p(
            "/entry/note",
            json!({"investigationId": "{inv}", "data": "x", "markdown": true}),
        ),
        p(
            "/entry/formatted",
            json!({"investigationId": "{inv}", "format": "markdown", "contents": "# x"}),
        ),
        p("/investigation/{inv}", json!({"pageSize": 10})),
        p(
            "/investigation/{inv}/context",
            json!({"query": "${incident.name}"}),
        ),
        p(
            "/investigation/{inv}/workplan/tasks",
            json!({"states": ["Waiting"], "types": ["condition"]}),
        ),
        p(
            "/incidents/search",
            json!({"filter": {"query": "", "page": 0, "size": 10, "id": ["{inv}"]}}),
        ),
        p(
            "/investigations/search",
            json!({"filter": {"type": [9], "page": 0, "size": 5}}),
        ),
        p(
            "/incident/close",
            json!({"id": "nope", "closeReason": "Resolved"}),
        ),
        p(
            "/incident/batchDelete",
            json!({"ids": ["nope"], "all": false, "filter": {}}),
        ),
        p(
            "/incident/investigate",
            json!({"id": "{inv}", "version": 1}),
        ),
        p(
            "/inv-playbook/task/complete",
            json!({"investigationId": "{inv}", "taskId": "1", "input": "yes"}),
        ),
        p("/inv-playbook/new/nope/{inv}", json!({})),
        p(
            "/playbook/search",
            json!({"query": "name:x", "page": 0, "size": 5}),
        ),
        p("/playbook/delete", json!({"id": "nope"})),
        p(
            "/playbook/inputs/nope",
            json!({"inputs": [{"key": "a", "value": {"simple": "b"}}]}),
        ),
        p("/system/config", json!({"data": {"k": "v"}, "version": -1})),
        p("/automation/search", json!({"query": "Print"})),
        p(
            "/automation",
            json!({"script": {"name": "Generated", "script": "", "type": "python"}}),
        ),
        p("/automation/copy", json!({"script": {"id": "Print"}})),
        p("/automation/load/Print", json!({})),
        p("/lists/save", json!({"name": "L", "data": "x"})),
        p(
            "/settings/integration/search",
            json!({"page": 0, "size": 10}),
        ),
        (
            Method::PUT,
            "/settings/integration".to_owned(),
            json!({"name": "generated", "brand": "SIGNL4", "enabled": "true",
                   "data": [{"name": "url", "value": "http://127.0.0.1:9"}, {"name": "secret", "value": "x"}]}),
        ),
        (
            Method::PUT,
            "/settings/integration-conf".to_owned(),
            json!({"name": "SIGNL4", "configuration": []}),
        ),
    ]
}

/// What to do to a valid body.
#[derive(Debug, Clone)]
enum Mutation {
    /// Remove the n-th field (of the top level or of the first nested object).
    Remove(usize, bool),
    /// Replace the n-th field's value.
    Replace(usize, bool, Value),
    /// Add a field.
    Add(String, Value),
    /// Send this instead of the body.
    Whole(Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..8usize, any::<bool>()).prop_map(|(i, nested)| Mutation::Remove(i, nested)),
        (0..8usize, any::<bool>(), any_json()).prop_map(|(i, n, v)| Mutation::Replace(i, n, v)),
        ("[a-zA-Z]{1,10}", any_json()).prop_map(|(k, v)| Mutation::Add(k, v)),
        any_json().prop_map(Mutation::Whole),
    ]
}

fn target(body: &mut Value, nested: bool) -> Option<&mut Map<String, Value>> {
    let top = body.as_object_mut()?;
    if nested {
        let key = top
            .iter()
            .find(|(_, v)| v.is_object())
            .map(|(k, _)| k.clone())?;
        return top.get_mut(&key).and_then(Value::as_object_mut);
    }
    Some(top)
}

fn apply(body: &mut Value, m: &Mutation) {
    match m {
        Mutation::Remove(i, nested) => {
            if let Some(o) = target(body, *nested) {
                if let Some(k) = o.keys().nth(i % o.len().max(1)).cloned() {
                    o.shift_remove(&k);
                }
            }
        }
        Mutation::Replace(i, nested, v) => {
            if let Some(o) = target(body, *nested) {
                if let Some(k) = o.keys().nth(i % o.len().max(1)).cloned() {
                    o.insert(k, v.clone());
                }
            }
        }
        Mutation::Add(k, v) => {
            if let Some(o) = body.as_object_mut() {
                o.insert(k.clone(), v.clone());
            }
        }
        Mutation::Whole(v) => *body = v.clone(),
    }
}

/// Whether a generated `/incident/batchDelete` body could delete the kept incident: a valid
/// request (`all` true, or its id among `ids`), but it would take away what the final check
/// reads. Judged conservatively: any `all` but false or absent, any `ids` mentioning the id.
fn deletes_kept(path: &str, body: &Value, inv: &str) -> bool {
    path == "/incident/batchDelete"
        && body.as_object().is_some_and(|o| {
            !matches!(o.get("all"), None | Some(Value::Null | Value::Bool(false)))
                || o.get("ids")
                    .is_some_and(|ids| ids.to_string().contains(inv))
        })
}

#[test]
fn every_endpoint_answers_bad_bodies_with_a_clear_4xx() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (api, inv): (Api, String) = rt.block_on(async {
        let (store, _) = Store::open_in_memory().expect("store");
        let api = common::server(
            common::engine(&[("SIGNL4.yml", SIGNL4_YML)]),
            store,
            ServerConfig::with_key(KEY),
        )
        .await;
        let inv = ok_json(&api.post("/incident", json!({"name": "kept"})).await)["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let r = api
            .post(
                "/entry/execute/sync",
                json!({"investigationId": inv, "data": "!Set key=Kept value=1"}),
            )
            .await;
        ok_json(&r);
        (api, inv)
    });
    // What the server deletes on (`all` as a bool, number or word; an id in any list form).
    for body in [
        json!({"all": 7}),
        json!({"all": "true"}),
        json!({"ids": "1"}),
        json!({"ids": [1]}),
    ] {
        assert!(deletes_kept("/incident/batchDelete", &body, "1"), "{body}");
    }
    assert!(!deletes_kept(
        "/incident/batchDelete",
        &json!({"ids": ["nope"], "all": false}),
        "1"
    ));
    let seeds = seeds(&inv);
    let mut runner = TestRunner::new(Config {
        cases: 384,
        failure_persistence: None,
        ..Config::default()
    });
    let case = (
        0..seeds.len(),
        prop::collection::vec(mutation(), 1..4),
        prop::bool::weighted(0.15),
    );
    let result = runner.run(&case, |(seed, mutations, raw)| {
        let (method, path, body) = &seeds[seed];
        let mut body = body.clone();
        for m in &mutations {
            apply(&mut body, m);
        }
        if deletes_kept(path, &body, &inv) {
            return Err(TestCaseError::reject("would delete the kept incident"));
        }
        rt.block_on(async {
            let reply = if raw {
                // The body as text with a byte cut off: not JSON at all.
                let mut text = body.to_string();
                text.pop();
                let req = axum::http::Request::builder()
                    .method(method.clone())
                    .uri(path.as_str())
                    .header("authorization", KEY)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(text))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                api.send(req).await
            } else {
                api.call(method.clone(), path, Some(body.clone())).await
            };
            let status = reply.status.as_u16();
            prop_assert!(
                (200..300).contains(&status) || (400..500).contains(&status),
                "{method} {path} {body}: {status} {}",
                reply.text()
            );
            if status >= 400 {
                let err = reply.json();
                let words = |k: &str| err[k].as_str().map_or(0, |s| s.trim().len());
                prop_assert!(
                    words("title") > 0 && words("detail") > 0,
                    "{method} {path} {body}: {status} without a title and a detail: {}",
                    reply.text()
                );
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The server still answers, and what it stored before is intact.
    rt.block_on(async {
        let ctx = ok_json(
            &api.post(
                &format!("/investigation/{inv}/context"),
                json!({"query": "${Kept}"}),
            )
            .await,
        );
        assert_eq!(ctx, json!(1), "stored context changed");
        assert!(api.get("/health/server").await.status.is_success());
    });
}
