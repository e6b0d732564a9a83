#!/usr/bin/env bash
# The browser package's tests: builds web/dist when it is missing or older than the sources,
# then runs test/*.test.mjs in Chromium (playwright-core + Debian's chromium, which .ci/run
# installs) one file at a time. Needs the native binary (HEARTH_BIN, default
# $CARGO_TARGET_DIR/release/hearth) for the test models and the parity test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

stale() {
  local built=dist/pkg/hearth_wasm_bg.wasm
  [ -f "$built" ] && [ -f dist/pkg-threads/hearth_wasm_bg.wasm ] || return 0
  [ -n "$(find src ../src ../Cargo.toml ../Cargo.lock ../wasm-pack.toml package.json -newer "$built" -print -quit)" ]
}
if stale; then
  bash build.sh
fi
if ! [ -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
exec node --test --test-concurrency=1 --test-reporter=spec test/*.test.mjs
