#!/usr/bin/env bash
# hearth's GPU network against burn's tensor ops on the same adapter, in one run: decode and
# prefill tok/s and what a decoded token costs (dispatches, submissions, bytes read back,
# buffers created), counted where hearth launches work, and the same counted from outside by
# a Vulkan layer (benches/vulkan-count: the difference between a 2 x GEN_TOKENS and a
# GEN_TOKENS decode, so loading and warm-up cancel out; for hearth's network only, since
# burn's autotuning launches a different number of trial kernels in each process). On Mesa's
# lavapipe the time per token is mostly per-dispatch cost, so this shows the overhead even
# without a GPU; on a real GPU it is the speed. Needs gcc and Debian's libvulkan-dev for the
# layer.
#
#   bash benches/gpu.sh [PRESETS] [DTYPES] [GEN_TOKENS]
#        (default: "tiny-gqa-tied qwen2-0.5b" "f32 q8" 16)
set -euo pipefail
cd "$(dirname "$0")/.."
PRESETS=${1:-tiny-gqa-tied qwen2-0.5b}
DTYPES=${2:-f32 q8}
GEN=${3:-16}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/hearth/target}
hearth=${HEARTH_BIN:-$CARGO_TARGET_DIR/release/hearth}
[ -n "${HEARTH_BIN:-}" ] || cargo build --release --quiet
models=${HEARTH_CACHE:-$HOME/.cache/hearth}/test-models

results=$(mktemp)
layer=$(mktemp -d)
trap 'rm -rf "$results" "$layer"' EXIT
gcc -O2 -shared -fPIC -o "$layer/libVkLayer_hearth_count.so" benches/vulkan-count/count.c
cp benches/vulkan-count/VkLayer_hearth_count.json "$layer/"
# Per-token dispatches, submissions and buffers seen by the Vulkan layer, as JSON fields.
outside() {
  for n in $GEN $((2 * GEN)); do
    VK_ADD_LAYER_PATH=$layer VK_INSTANCE_LAYERS=VK_LAYER_HEARTH_count HEARTH_VK_COUNT_OUT=$layer/$n.json \
      "$hearth" bench "$@" --prompt-tokens 16 --gen-tokens $n --repeat 1 --json >/dev/null 2>&1
  done
  python3 - "$layer/$GEN.json" "$layer/$((2 * GEN)).json" "$GEN" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
n = int(sys.argv[3])
print(",".join(f'"vk_{k}_per_token":{(b[k] - a[k]) / n:.2f}' for k in ("dispatches", "submissions", "buffers")))
PY
}
for preset in $PRESETS; do
  dir=$models/$preset
  [ -f "$dir/config.json" ] || "$hearth" make-test-model --out "$dir" --preset "$preset" >/dev/null
  for dtype in $DTYPES; do
    for backend in wgpu wgpu-burn; do
      # burn's tensor network runs only the float formats.
      case "$backend:$dtype" in wgpu-burn:q*) continue ;; esac
      out=$("$hearth" bench --model-dir "$dir" --backend "$backend" --dtype "$dtype" \
        --prompt-tokens 16 --gen-tokens "$GEN" --repeat 2 --json 2>/dev/null) || {
        echo "{\"preset\":\"$preset\",\"backend\":\"$backend\",\"dtype\":\"$dtype\",\"failed\":true}" >>"$results"
        continue
      }
      vk='"vk":null'
      [ "$backend" = wgpu ] && vk=$(outside --model-dir "$dir" --backend "$backend" --dtype "$dtype")
      echo "{\"preset\":\"$preset\",\"backend\":\"$backend\",$vk,${out#\{}" >>"$results"
    done
  done
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def f(v, fmt):
    return "-" if v is None else format(v, fmt)
print("| shape | dtype | network | device | prefill tok/s | decode tok/s | dispatches/token | submissions/token | readback B/token | allocations/token | Vulkan layer: dispatches / submissions / buffers per token |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
speed = {}
for r in rows:
    if r.get("failed"):
        print(f"| {r['preset']} | {r['dtype']} | {r['backend']} | failed | | | | | | | |")
        continue
    net = "hearth" if r["backend"] == "wgpu" else "burn"
    speed[(r["preset"], r["dtype"], net)] = r["decode_tok_s"]
    print(f"| {r['preset']} | {r['dtype']} | {net} | {r['device']} | {r['prefill_tok_s']:.1f} | {r['decode_tok_s']:.2f} | "
          f"{f(r.get('dispatches_per_token'), '.0f')} | {f(r.get('submissions_per_token'), '.1f')} | "
          f"{f(r.get('readback_bytes_per_token'), '.0f')} | {f(r.get('gpu_allocations_per_token'), '.1f')} | "
          + (f"{r['vk_dispatches_per_token']:.1f} / {r['vk_submissions_per_token']:.1f} / {r['vk_buffers_per_token']:.1f} |"
             if 'vk_dispatches_per_token' in r else "- |"))
for (preset, dtype, net), v in sorted(speed.items()):
    if net == "hearth" and (preset, dtype, "burn") in speed:
        print(f"{preset} {dtype}: hearth decodes {v / speed[(preset, dtype, 'burn')]:.1f}x burn's tensor network")
PY
