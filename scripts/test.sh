#!/usr/bin/env bash
# The whole test suite: formatting, lints, every Rust test, the browser tests of the web
# screen, and the FIX interop test against QuickFIX. Each part installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
if [ -x web/tests/run.sh ] || [ -f web/tests/run.sh ]; then
  echo "== web screen in a real browser"
  bash web/tests/run.sh
fi
if [ -f crates/fix/interop/run.sh ]; then
  echo "== FIX 4.4 interop with QuickFIX"
  bash crates/fix/interop/run.sh
fi
echo "== all tests passed"
