#!/usr/bin/env bash
# Builds the browser package from a clean checkout: the crate for wasm32 twice (the builds in
# ../wasm-pack.toml: `main` with WebGPU, `threads` for the CPU on Web Workers), wasm-bindgen's
# glue for each, and the package with the chat page into web/dist; then prints each wasm's
# size. Downloads nothing but registry packages and rustup components (wasm-bindgen-cli from
# crates.io into a tool cache outside the clone; the threaded build's pinned nightly).
#
# `--report` then also measures it in headless Chromium (web/report.mjs).
#
# Environment: HEARTH_TOOLS (tool cache, default ~/.cache/hearth/tools).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=../scripts/wasm-tools.sh
source scripts/wasm-tools.sh
install_wasm_bindgen

read_wasm_builds

started=$SECONDS
rm -rf "$DIST_DIR"
mkdir -p "$DIST_DIR"
for build in $BUILDS; do
  var() { build_var "$build" "$1"; }
  install_build_toolchain "$build"
  # Only the wasm32 artifacts see these flags (build scripts run natively).
  # shellcheck disable=SC2046
  CARGO_TARGET_DIR="$(var TARGET_DIR)" RUSTFLAGS="$(var RUSTFLAGS)" \
    cargo "+$(var TOOLCHAIN)" build $(var CARGO_FLAGS) --lib --profile "$PROFILE" \
    --target wasm32-unknown-unknown $NO_DEFAULT --features "$(var FEATURES)"
  out="$(var OUT_DIR)"
  rm -rf "$out"
  # shellcheck disable=SC2086
  "$TOOLS/bin/wasm-bindgen" $BINDGEN_FLAGS --target "$TARGET" --out-dir "$out" --out-name "$OUT_NAME" \
    "$(var TARGET_DIR)/wasm32-unknown-unknown/$PROFILE/hearth.wasm"
  cp -r "$out" "$DIST_DIR/$(basename "$out")"
done
cp web/src/*.js web/src/*.d.ts web/src/*.html web/src/*.css "$DIST_DIR"/
# The chat page's Markdown parser and sanitizer (web/package.json "dependencies"), as the ES
# modules it imports from vendor/: the page has no bundler.
[ -f web/node_modules/marked/package.json ] && [ -f web/node_modules/dompurify/package.json ] \
  || (cd web && npm ci --no-audit --no-fund)
mkdir -p "$DIST_DIR/vendor"
cp web/node_modules/marked/lib/marked.esm.js web/node_modules/dompurify/dist/purify.es.mjs "$DIST_DIR/vendor/"

for pkg in "$DIST_DIR"/pkg*/; do
  bg="$pkg${OUT_NAME}_bg.wasm"
  awk -v name="$(basename "$pkg")" -v raw="$(stat -c %s "$bg")" -v gz="$(gzip -9 -c "$bg" | wc -c)" \
    'BEGIN { printf "web/build.sh: %s wasm %.1f MiB raw, %.1f MiB gzip\n", name, raw / 1048576, gz / 1048576 }'
done
echo "web/build.sh: $DIST_DIR in $((SECONDS - started))s"

if [ "${1:-}" = "--report" ]; then
  [ -d web/node_modules/playwright-core ] || (cd web && npm ci --no-audit --no-fund)
  node web/report.mjs
fi
