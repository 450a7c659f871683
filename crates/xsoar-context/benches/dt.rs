//! DT evaluation and context merge costs on the hot paths of the engine.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use xsoar_context::{eval_path, merge_entry_context, Scope};

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

fn bench(c: &mut Criterion) {
    let ctx = example_context();
    let scope = Scope::new(&ctx);
    c.bench_function("plain path Endpoint.Hostname", |b| {
        b.iter(|| eval_path(black_box("Endpoint.Hostname"), &scope))
    });
    c.bench_function("plain path SIGNL4.AlertCreated.eventId (list)", |b| {
        b.iter(|| eval_path(black_box("SIGNL4.AlertCreated.eventId"), &scope))
    });
    c.bench_function(
        "selector fast path DBotScore(val.Score >= 2).Indicator",
        |b| b.iter(|| eval_path(black_box("DBotScore(val.Score >= 2).Indicator"), &scope)),
    );
    c.bench_function(
        "selector QuickJS SIGNL4.AlertCreated(val.title.indexOf('pu') >= 0).eventId",
        |b| {
            b.iter(|| {
                eval_path(
                    black_box("SIGNL4.AlertCreated(val.title.indexOf('pu') >= 0).eventId"),
                    &scope,
                )
            })
        },
    );

    let key = "SIGNL4.AlertCreated(val.eventId && val.eventId == obj.eventId)";
    let mut big = json!({});
    for i in 0..100 {
        merge_entry_context(
            &mut big,
            key,
            json!({"eventId": format!("e-{i}"), "title": "t"}),
        )
        .ok();
    }
    c.bench_function(
        "merge key-field selector, update into 100 items (last)",
        |b| {
            let obj = json!({"eventId": "e-99", "title": "updated"});
            b.iter(|| merge_entry_context(&mut big, black_box(key), obj.clone()))
        },
    );
    c.bench_function(
        "merge key-field selector, update into 100 items (first)",
        |b| {
            let obj = json!({"eventId": "e-0", "title": "updated"});
            b.iter(|| merge_entry_context(&mut big, black_box(key), obj.clone()))
        },
    );
    c.bench_function(
        "merge key-field selector, append to 100 items (+pop)",
        |b| {
            let obj = json!({"eventId": "new", "title": "n"});
            b.iter(|| {
                merge_entry_context(&mut big, black_box(key), obj.clone()).ok();
                if let Some(Value::Array(a)) = big.pointer_mut("/SIGNL4/AlertCreated") {
                    a.pop();
                }
            })
        },
    );
    c.bench_function("merge append without selector (fresh key)", |b| {
        b.iter(|| {
            let mut c = json!({});
            merge_entry_context(&mut c, black_box("Data"), json!({"a": 1})).ok();
            c
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
