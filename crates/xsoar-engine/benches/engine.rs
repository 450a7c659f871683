//! Engine overhead: war-room dispatch of `!Set`, and playbook scheduling per task.
//!
//! `cargo bench -p xsoar-engine --bench engine`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use xsoar_content::parse_any;
use xsoar_engine::{Engine, EngineOptions, Investigation, RunOptions, RunState, VirtualClock};

fn engine() -> Engine {
    Engine::new(VirtualClock::fixed(), EngineOptions::default())
}

/// A linear playbook: start, then `n` `Set` tasks in a row.
fn linear_playbook(n: usize) -> String {
    let mut s = format!("id: linear{n}\nname: linear{n}\nstarttaskid: \"0\"\ntasks:\n");
    s.push_str(
        "  \"0\": {id: \"0\", type: start, task: {name: \"\"}, nexttasks: {'#none#': [\"1\"]}}\n",
    );
    for i in 1..=n {
        let next = if i < n {
            format!(", nexttasks: {{'#none#': [\"{}\"]}}", i + 1)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "  \"{i}\": {{id: \"{i}\", type: regular, task: {{name: set {i}, scriptName: Set}}, scriptarguments: {{key: {{simple: K{}}}, value: {{simple: v}}}}{next}}}\n",
            i % 8
        ));
    }
    s
}

fn for_each_playbooks(n: usize) -> (String, String) {
    let parent = format!(
        "id: each\nname: each\nstarttaskid: \"0\"\ntasks:\n  \"0\": {{id: \"0\", type: start, task: {{name: \"\"}}, nexttasks: {{'#none#': [\"1\"]}}}}\n  \"1\": {{id: \"1\", type: playbook, task: {{name: loop, playbookName: body}}, separatecontext: false, scriptarguments: {{Item: {{complex: {{root: Items}}}}}}, loop: {{iscommand: false, exitCondition: \"\", wait: 0, max: {n}, forEach: true}}}}\n"
    );
    let child = "id: body\nname: body\nstarttaskid: \"0\"\ninputs:\n- key: Item\n  value: {}\ntasks:\n  \"0\": {id: \"0\", type: start, task: {name: \"\"}, nexttasks: {'#none#': [\"1\"]}}\n  \"1\": {id: \"1\", type: regular, task: {name: set, scriptName: Set}, scriptarguments: {key: {simple: Last}, value: {simple: '${inputs.Item}'}}}\n".to_owned();
    (parent, child)
}

fn load(engine: &Engine, texts: &[String]) {
    let items = texts
        .iter()
        .filter_map(|t| parse_any(t, "bench.yml").0)
        .collect();
    engine.add_content(items);
}

fn warroom(c: &mut Criterion) {
    let mut g = c.benchmark_group("warroom");
    g.throughput(Throughput::Elements(1));
    let e = engine();
    let mut inv = Investigation::new("1", json!({}));
    g.bench_function("set_dispatch", |b| {
        b.iter(|| {
            futures::executor::block_on(e.execute_line(&mut inv, "!Set key=Host.name value=ws-01"))
        })
    });
    let mut inv = Investigation::new("2", json!({}));
    futures::executor::block_on(e.execute_line(
        &mut inv,
        r#"!Set key=Hosts value=`[{"name": "a", "ip": "1"}, {"name": "b", "ip": "2"}]`"#,
    ));
    g.bench_function("print_with_selector", |b| {
        b.iter(|| {
            futures::executor::block_on(
                e.execute_line(&mut inv, "!Print value=${Hosts(val.name == 'b').ip}"),
            )
        })
    });
    g.finish();
}

fn playbooks(c: &mut Criterion) {
    let mut g = c.benchmark_group("playbook");
    for n in [40usize, 400] {
        let e = engine();
        load(&e, &[linear_playbook(n)]);
        g.throughput(Throughput::Elements(n as u64 + 1));
        g.bench_function(format!("linear_{n}_tasks"), |b| {
            b.iter_batched(
                || Investigation::new("1", json!({})),
                |mut inv| {
                    let run = futures::executor::block_on(e.run_playbook(
                        &mut inv,
                        &format!("linear{n}"),
                        None,
                        &RunOptions::default(),
                    ));
                    assert!(matches!(run, Ok(r) if r.state == RunState::Completed));
                },
                BatchSize::SmallInput,
            )
        });
    }
    let e = engine();
    let (parent, child) = for_each_playbooks(1000);
    load(&e, &[parent, child]);
    let items: Vec<usize> = (0..1000).collect();
    g.throughput(Throughput::Elements(1000));
    g.sample_size(20);
    g.bench_function("for_each_1000_iterations", |b| {
        b.iter_batched(
            || {
                let mut inv = Investigation::new("1", json!({}));
                inv.context = json!({"Items": items});
                inv
            },
            |mut inv| {
                let run = futures::executor::block_on(e.run_playbook(
                    &mut inv,
                    "each",
                    None,
                    &RunOptions::default(),
                ));
                assert!(matches!(run, Ok(r) if r.state == RunState::Completed));
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, warroom, playbooks);
criterion_main!(benches);
