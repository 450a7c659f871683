#!/usr/bin/env bash
# The project's test command (README.md): formatting, lints, every Rust test suite (the
# console's browser test included: it needs Debian's chromium and chromium-driver), then the
# real-client suite (demisto-sdk and demisto-py from PyPI in a venv, against `xsoar-emu serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
cargo build --locked -p xsoar-emu
# The binary cargo just built, wherever CARGO_TARGET_DIR puts it.
XSOAR_EMU_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/xsoar-emu" bash tests/python/run.sh
