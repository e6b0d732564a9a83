#!/usr/bin/env bash
# Builds the browser package from a clean checkout: the crate for wasm32 (settings in
# ../wasm-pack.toml), wasm-bindgen's glue into web/pkg, and the package with the chat page
# into web/dist; then prints the wasm's size. Downloads nothing but registry packages
# (wasm-bindgen-cli from crates.io, into a tool cache outside the clone).
#
# `--report` then also measures it in headless Chromium (web/report.mjs): the time to load the
# tiny test model, and tokens/s on the CPU and on WebGPU for the Qwen2-0.5B-shaped test model.
#
# Environment: HEARTH_TOOLS (tool cache, default ~/.cache/hearth/tools), HEARTH_WEB_TARGET_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=../scripts/wasm-tools.sh
source scripts/wasm-tools.sh
install_wasm_bindgen
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# wasm-pack.toml as shell variables.
eval "$(python3 - <<'PY'
import os, shlex, tomllib
s = tomllib.load(open("wasm-pack.toml", "rb"))
b, o = s["build"], s["output"]
print(f"TARGET={shlex.quote(b['target'])}")
print(f"FEATURES={shlex.quote(','.join(b['features']))}")
print(f"NO_DEFAULT={'--no-default-features' if b['no-default-features'] else ''}")
print(f"PROFILE={shlex.quote(b['profile'])}")
print(f"BINDGEN_FLAGS={shlex.quote(' '.join(b['wasm-bindgen-flags']))}")
print(f"RUSTFLAGS_WASM={shlex.quote(' '.join(b['rustflags']))}")
print(f"TARGET_DIR_DEFAULT={shlex.quote(os.path.expanduser(b['target-dir']))}")
print(f"OUT_DIR={shlex.quote(o['out-dir'])}")
print(f"OUT_NAME={shlex.quote(o['out-name'])}")
print(f"DIST_DIR={shlex.quote(o['dist-dir'])}")
PY
)"

target_dir="${HEARTH_WEB_TARGET_DIR:-$TARGET_DIR_DEFAULT}"
started=$SECONDS
# Only the wasm32 artifacts see these flags (build scripts run natively).
CARGO_TARGET_DIR="$target_dir" RUSTFLAGS="$RUSTFLAGS_WASM" \
  cargo build --lib --profile "$PROFILE" --target wasm32-unknown-unknown $NO_DEFAULT --features "$FEATURES"
wasm="$target_dir/wasm32-unknown-unknown/$PROFILE/hearth.wasm"
rm -rf "$OUT_DIR" "$DIST_DIR"
# shellcheck disable=SC2086
"$TOOLS/bin/wasm-bindgen" $BINDGEN_FLAGS --target "$TARGET" --out-dir "$OUT_DIR" --out-name "$OUT_NAME" "$wasm"
mkdir -p "$DIST_DIR"
cp web/src/*.js web/src/*.d.ts web/src/*.html web/src/*.css "$DIST_DIR"/
cp -r "$OUT_DIR" "$DIST_DIR/pkg"

bg="$DIST_DIR/pkg/${OUT_NAME}_bg.wasm"
raw=$(stat -c %s "$bg")
gz=$(gzip -9 -c "$bg" | wc -c)
awk -v raw="$raw" -v gz="$gz" -v dir="$DIST_DIR" -v s=$((SECONDS - started)) \
  'BEGIN { printf "web/build.sh: %s in %ds; wasm %.1f MiB raw, %.1f MiB gzip\n", dir, s, raw / 1048576, gz / 1048576 }'

if [ "${1:-}" = "--report" ]; then
  [ -d web/node_modules/playwright-core ] || (cd web && npm ci --no-audit --no-fund)
  node web/report.mjs
fi
