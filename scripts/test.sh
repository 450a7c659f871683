#!/usr/bin/env bash
# The project's test command (README.md): formatting, lints, then every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
