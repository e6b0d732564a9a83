#!/usr/bin/env bash
# The worker's tests: builds worker/build when it is missing or older than the sources, then
# runs test/*.test.mjs (Miniflare on 127.0.0.1) one file at a time. Needs the native binary
# (HEARTH_BIN, default $CARGO_TARGET_DIR/release/hearth, else ~/.cache/hearth/target/release/
# hearth) and the Qwen tokenizer (scripts/fetch-tokenizer.sh) for the test models, which it
# makes once into ~/.cache/hearth/test-models.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

stale() {
  [ -f build/index.js ] || return 0
  [ -n "$(find src .cargo Cargo.toml Cargo.lock ../src ../Cargo.toml -newer build/index.js -print -quit)" ]
}
if stale; then
  bash build.sh
fi
if ! [ -d node_modules/miniflare ]; then
  npm ci --no-audit --no-fund
fi
export WRANGLER_SEND_METRICS=false
# One file at a time: each starts workerd and generates on the CPU.
exec node --test --test-concurrency=1 --test-reporter=spec test/*.test.mjs
