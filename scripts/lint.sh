#!/usr/bin/env bash
# clippy with warnings denied on every target the crate is built for (native, the browser's
# wasm32 with `web`, the worker's wasm32), and rustdoc with broken intra-doc links denied.
# Each wasm32 check uses its build's target dir and flags, so it reuses what that build
# checked before.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/hearth/target}

cargo clippy --all-targets -- -D warnings

# The browser build's flags and features (wasm-pack.toml).
wasm_flags=$(python3 -c 'import tomllib; print(" ".join(tomllib.load(open("wasm-pack.toml", "rb"))["build"]["rustflags"]))')
CARGO_TARGET_DIR="${HEARTH_WEB_TARGET_DIR:-$HOME/.cache/hearth/target-web}" RUSTFLAGS="$wasm_flags" \
  cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features web -- -D warnings

# The worker's own workspace (its .cargo/config.toml sets the target and flags). The library
# without `web` builds for wasm32 only inside it (the worker enables getrandom's JS entropy),
# so its warnings show here without failing; the `web` check above covers the wasm32 code.
(cd worker && CARGO_TARGET_DIR="${HEARTH_WORKER_TARGET_DIR:-$HOME/.cache/hearth/target-worker}" \
  cargo clippy -- -D warnings)

RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links" \
  cargo doc --no-deps --lib
