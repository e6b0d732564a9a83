#!/usr/bin/env bash
# clippy with warnings denied on every target the crate is built for (native, the browser's
# wasm32 with `web`, the worker's wasm32), and rustdoc with broken intra-doc links denied.
# Each wasm32 check uses its build's target dir and flags, so it reuses what that build
# checked before.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/hearth/target}

cargo clippy --all-targets -- -D warnings

# Both browser builds, each with its toolchain, flags, features and target dir (wasm-pack.toml).
# shellcheck source=wasm-tools.sh
source scripts/wasm-tools.sh
read_wasm_builds
for build in $BUILDS; do
  install_build_toolchain "$build"
  # shellcheck disable=SC2046
  CARGO_TARGET_DIR="$(build_var "$build" TARGET_DIR)" RUSTFLAGS="$(build_var "$build" RUSTFLAGS)" \
    cargo "+$(build_var "$build" TOOLCHAIN)" clippy $(build_var "$build" CARGO_FLAGS) --lib \
    --target wasm32-unknown-unknown $NO_DEFAULT --features "$(build_var "$build" FEATURES)" -- -D warnings
done

# The worker's own workspace (its .cargo/config.toml sets the target and flags). The library
# without `web` builds for wasm32 only inside it (the worker enables getrandom's JS entropy),
# so its warnings show here without failing; the `web` check above covers the wasm32 code.
(cd worker && CARGO_TARGET_DIR="${HEARTH_WORKER_TARGET_DIR:-$HOME/.cache/hearth/target-worker}" \
  cargo clippy -- -D warnings)

RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links" \
  cargo doc --no-deps --lib
