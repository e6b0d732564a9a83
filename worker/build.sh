#!/usr/bin/env bash
# Builds the deployable worker into worker/build from a clean checkout. Downloads nothing but
# registry packages: the pinned npm packages (esbuild), and worker-build and wasm-bindgen-cli
# from crates.io into a tool cache outside the clone when they are missing.
#
# Environment: HEARTH_TOOLS (tool cache, default ~/.cache/hearth/tools),
# HEARTH_WORKER_TARGET_DIR (the wasm build's target dir, default ~/.cache/hearth/target-worker;
# not CARGO_TARGET_DIR, which a caller may have set for the native build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

WORKER_BUILD_VERSION=0.8.7
export CARGO_TARGET_DIR="${HEARTH_WORKER_TARGET_DIR:-$HOME/.cache/hearth/target-worker}"
# shellcheck source=../scripts/wasm-tools.sh
source ../scripts/wasm-tools.sh
install_wasm_bindgen
install_tool worker-build worker-build "$WORKER_BUILD_VERSION" "$WORKER_BUILD_VERSION"

if ! [ -x node_modules/@esbuild/linux-x64/bin/esbuild ] || ! [ -d node_modules/miniflare ]; then
  npm ci --no-audit --no-fund
fi

# worker-build would otherwise download wasm-bindgen, esbuild and wasm-opt from GitHub;
# wasm-opt is off in Cargo.toml (Debian's binaryen is too old).
export WASM_BINDGEN_BIN="$TOOLS/bin/wasm-bindgen"
export ESBUILD_BIN="$PWD/node_modules/@esbuild/linux-x64/bin/esbuild"
"$TOOLS/bin/worker-build" --release
ls -l build
