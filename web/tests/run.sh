#!/usr/bin/env bash
# Browser tests of the web trading screen: installs what is missing (Debian's chromium,
# playwright-core), builds the release binary, then runs web.test.mjs, which starts
# `tokex demo` on a free port with a temporary data directory, drives the page, restarts the
# server mid-test and saves screenshots to web/tests/screenshots/. Exits non-zero on failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
start=$(date +%s)

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

echo "== playwright-core"
cd "$here"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi

echo "== building the release binary"
cd "$repo"
cargo build --release -p tokex-cli --quiet

echo "== browser tests"
cd "$here"
mkdir -p screenshots
TOKEX_REPO="$repo" TOKEX_BIN="$repo/target/release/tokex" \
  node --test --test-concurrency=1 --test-reporter=spec web.test.mjs
echo "== web tests passed in $(( $(date +%s) - start )) s; screenshots in web/tests/screenshots/"
