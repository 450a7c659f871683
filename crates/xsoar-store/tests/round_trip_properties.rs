//! Generated data through the store (proptest): entries with any JSON contents (unicode, NUL
//! and control characters, integers past i64, floats, deep nesting), any context, incident and
//! file bytes, written in several commits and read back after reopening the database file.
//! What comes back is what went in: nothing stored is lost or changed.

mod common;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use xsoar_engine::Entry;
use xsoar_store::{Commit, JsonText, Store};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,16}",
        any::<String>(),
        Just("\u{0}nul\u{1}\u{1f}".to_owned()),
        Just("é😀\u{2028}\"'\\".to_owned()),
        Just(String::new()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        prop_oneof![
            Just(0.1),
            Just(-2.5e-300),
            Just(1.7976931348623157e308),
            Just(-0.0)
        ]
        .prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((text(), json_value()), 0..5).prop_map(|kv| kv.into_iter().collect())
}

fn entry(inv: &str, seq: usize) -> impl Strategy<Value = Entry> {
    let inv = inv.to_owned();
    (
        json_value(),
        prop::option::of(text()),
        text(),
        prop::sample::select(vec![1i64, 4, 11, 16]),
        prop::option::of(object()),
        prop::collection::vec(text(), 0..3),
        any::<bool>(),
    )
        .prop_map(move |(contents, hr, parent, kind, ctx, tags, note)| Entry {
            human_readable: hr,
            parent_content: parent.into(),
            tags,
            note,
            entry_context: ctx.filter(|c| !c.is_empty()).map(Box::new),
            ..Entry::new(
                format!("{seq}@{inv}").into(),
                inv.clone().into(),
                kind,
                contents,
                "2025-11-29T07:00:00.000000001Z".into(),
            )
        })
}

/// Several commits of one investigation: entries (numbered on), context, incident, files.
#[derive(Debug, Clone)]
struct Batch {
    entries: Vec<Entry>,
    context: Value,
    incident: Value,
    files: Vec<(String, Vec<u8>)>,
}

fn batches() -> impl Strategy<Value = Vec<Batch>> {
    prop::collection::vec(
        (
            1usize..4,
            json_value(),
            object(),
            prop::collection::vec(
                ("[a-z0-9-]{1,8}", prop::collection::vec(any::<u8>(), 0..64)),
                0..2,
            ),
        ),
        1..4,
    )
    .prop_flat_map(|shapes| {
        let mut seq = 0;
        let parts: Vec<_> = shapes
            .into_iter()
            .map(|(n, context, incident, files)| {
                let entries: Vec<_> = (0..n)
                    .map(|_| {
                        seq += 1;
                        entry("7", seq)
                    })
                    .collect();
                (entries, Just(context), Just(incident), Just(files))
            })
            .collect();
        parts
    })
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(entries, context, mut incident, files)| {
                incident.insert("id".into(), json!("7"));
                Batch {
                    entries,
                    context,
                    incident: Value::Object(incident),
                    files,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn what_is_stored_comes_back_after_a_reopen(batches in batches()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("db.sqlite");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            {
                let (store, _) = Store::open(&path).expect("open");
                common::create_incident_investigation(&store, "7").await;
                for b in &batches {
                    let mut commit = Commit::new("7");
                    commit.entries = b.entries.clone();
                    commit.context = Some(JsonText::encode(&b.context).expect("encode"));
                    commit.incident = Some(b.incident.clone());
                    commit.files = b.files.clone();
                    store.commit(commit).await.expect("commit");
                }
            }
            let (store, _) = Store::open(&path).expect("reopen");
            let snap = store.load().await.expect("load");
            let inv = snap
                .investigations
                .iter()
                .find(|i| i.record.id == "7")
                .expect("investigation kept");
            let want: Vec<&Entry> = batches.iter().flat_map(|b| &b.entries).collect();
            let got: Vec<&Entry> = inv.investigation.entries.iter().map(|e| &**e).collect();
            prop_assert_eq!(got, want);
            let last = batches.last().expect("one batch at least");
            prop_assert_eq!(&inv.investigation.context, &last.context);
            let incident = snap.incidents.iter().find(|i| i.id == "7").expect("incident kept");
            for (k, v) in last.incident.as_object().into_iter().flatten() {
                prop_assert_eq!(&incident.data[k], v, "incident field {}", k);
            }
            // A later file with the same id replaces an earlier one.
            let mut files = std::collections::BTreeMap::new();
            for (id, bytes) in batches.iter().flat_map(|b| &b.files) {
                files.insert(id.as_str(), bytes);
            }
            for (id, bytes) in files {
                prop_assert_eq!(inv.investigation.files.get(id), Some(bytes), "file {}", id);
            }
            Ok(())
        })?;
    }
}
