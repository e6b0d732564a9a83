#!/usr/bin/env bash
# Load time and memory of one model shape from safetensors and from GGUF files (Q8_0 and
# Q4_K_M, written by `hearth make-test-model --format gguf`), each run by `hearth bench`
# on the CPU, one after another, then one table.
#
#   bash benches/gguf.sh [PRESET] [THREADS]       (default: qwen2-0.5b 2)
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${1:-qwen2-0.5b}
THREADS=${2:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/hearth/target}
cargo build --release --quiet
hearth=$CARGO_TARGET_DIR/release/hearth
models=${HEARTH_CACHE:-$HOME/.cache/hearth}/test-models
dir=$models/$PRESET
[ -f "$dir/config.json" ] || "$hearth" make-test-model --out "$dir" --preset "$PRESET"
for type in Q8_0 Q4_K_M; do
  file=$models/$PRESET-$type.gguf
  [ -f "$file" ] || "$hearth" make-test-model --preset "$PRESET" --format gguf --gguf-type "$type" --out "$file"
done

results=$(mktemp)
trap 'rm -f "$results"' EXIT
bench() {
  local label=$1 bytes=$2
  shift 2
  out=$("$hearth" bench "$@" --backend cpu --threads "$THREADS" --prompt-tokens 16 --gen-tokens 32 --repeat 2 --json 2>/dev/null)
  echo "{\"source\":\"$label\",\"file_bytes\":$bytes,${out#\{}" >>"$results"
}
size() { du -cbL "$@" | tail -1 | cut -f1; }
weights=$(size "$dir"/*.safetensors)
bench "safetensors (bf16 file)" "$weights" --model-dir "$dir" --dtype bf16
bench "safetensors (bf16 file)" "$weights" --model-dir "$dir" --dtype q8
for type in Q8_0 Q4_K_M; do
  file=$models/$PRESET-$type.gguf
  bench "GGUF $type" "$(size "$file")" --model-file "$file"
done
bench "GGUF Q4_K_M" "$(size "$models/$PRESET-Q4_K_M.gguf")" --model-file "$models/$PRESET-Q4_K_M.gguf" --dtype q8

python3 - "$results" "$PRESET" "$THREADS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{sys.argv[2]}, {sys.argv[3]} threads, CPU")
print("| source | file MiB | runs as | load s | RSS serving MiB | weights MiB | decode tok/s |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['source']} | {r['file_bytes'] / 2**20:.0f} | {r['dtype']} | {r['load_ms'] / 1000:.2f} | "
          f"{r['rss_mb']:.0f} | {r['weights_mb']:.0f} | {r['decode_tok_s']:.1f} |")
PY
