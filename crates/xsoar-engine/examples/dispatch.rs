//! 100k `!Set` war-room dispatches in-process on one investigation; prints commands/s.
//!
//! `cargo run --release -p xsoar-engine --example dispatch [N]`

use serde_json::json;
use std::time::Instant;
use xsoar_engine::{Engine, EngineOptions, Investigation, VirtualClock};

// The same allocator as the xsoar-emu binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let engine = Engine::new(VirtualClock::fixed(), EngineOptions::default());
    let mut inv = Investigation::new("1", json!({}));
    let lines: Vec<String> = (0..n)
        .map(|i| format!("!Set key=Host{} value=ws-{i}", i % 16))
        .collect();
    let start = Instant::now();
    futures::executor::block_on(async {
        for l in &lines {
            engine.execute_line(&mut inv, l).await;
        }
    });
    let elapsed = start.elapsed();
    assert_eq!(inv.entries.len(), 2 * n);
    println!(
        "{n} !Set dispatches in {:.1} ms: {:.0} commands/s ({:.2} µs per command)",
        elapsed.as_secs_f64() * 1e3,
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
}
