//! Loading cost of the corpus against a bare YAML parse of the same files: the model walk and
//! checks should stay within 2x of `serde_yaml::from_str::<Value>`.

use std::path::Path;

use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus");
    let mut files = Vec::new();
    for dir in ["integrations", "playbooks"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    files.push((format!("{dir}/{}", e.file_name().to_string_lossy()), text));
                }
            }
        }
    }
    files.sort();
    files
}

fn load(c: &mut Criterion) {
    let files = corpus();
    assert!(!files.is_empty(), "corpus not found");
    let mut group = c.benchmark_group("corpus");
    group.bench_function("serde_yaml_value", |b| {
        b.iter(|| {
            for (_, text) in &files {
                black_box(serde_yaml::from_str::<serde_yaml::Value>(black_box(text)).ok());
            }
        })
    });
    group.bench_function("parse_any", |b| {
        b.iter(|| {
            for (name, text) in &files {
                black_box(xsoar_content::parse_any(black_box(text), name));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
