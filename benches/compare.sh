#!/usr/bin/env bash
# hearth against llama.cpp on the Qwen2-0.5B-shaped test model: llama-bench (through
# benches/peer/llama-bench.sh) and `hearth bench`, in the same run, on the same thread count,
# then one table of tokens/s with the ratios hearth / llama.cpp per dtype.
#
#   bash benches/compare.sh [THREADS] [DTYPES]       (default: 2 "f32 f16 bf16 q8 q4")
#
# PEER_BENCH overrides where peer-bench.sh is. The first run builds llama.cpp (~20 min).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
DTYPES=${2:-f32 f16 bf16 q8 q4}
PEER_BENCH=${PEER_BENCH:-benches/peer/llama-bench.sh}
# shellcheck source=benches/test-model.sh
source benches/test-model.sh

results=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$results" "$errors"' EXIT
# Per dtype, the peer and then hearth, back to back: this machine's memory bandwidth drifts by
# 10-20% over minutes, so figures taken minutes apart would not compare.
for dt in $DTYPES; do
  peer=$(case $dt in q8) echo q8_0 ;; q4) echo q4_0 ;; *) echo "$dt" ;; esac)
  bash "$PEER_BENCH" "$model" "$THREADS" "$peer" >>"$results"
  if out=$("$hearth" bench --model-dir "$model" --backend cpu --dtype "$dt" --threads "$THREADS" --json 2>"$errors"); then
    echo "${out/#\{/\{\"engine\":\"hearth\",}" >>"$results"
  else
    why=$( (grep -m1 -E '^(error|hearth):' "$errors" || tail -n 1 "$errors") | tr -d '"\\')
    echo "{\"engine\":\"hearth\",\"dtype\":\"$dt\",\"error\":\"$why\"}" >>"$results"
  fi
done

python3 - "$results" "$THREADS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peer = {r["dtype"]: r for r in rows if r["engine"] == "llama.cpp"}
ours = [r for r in rows if r["engine"] == "hearth"]
name = {"q8": "q8_0", "q4": "q4_0"}
print(f"Qwen2-0.5B shape, {sys.argv[2]} threads; tok/s (prefill 128 tokens, decode 64 from an empty cache)")
print("| dtype | hearth prefill | llama.cpp prefill | ratio | hearth decode | llama.cpp decode | ratio | hearth load | hearth RSS serving / weights |")
print("|---|---|---|---|---|---|---|---|---|")
for r in ours:
    p = peer.get(name.get(r["dtype"], r["dtype"]), {})
    if "error" in r:
        print(f"| {r['dtype']} | {r['error']} | {p.get('prefill_tok_s', '-')} | | | {p.get('decode_tok_s', '-')} | | | |")
        continue
    ratio = lambda a, b: f"{a / b:.2f}x" if b else "-"
    print(f"| {r['dtype']} | {r['prefill_tok_s']:.1f} | {p.get('prefill_tok_s', 0):.1f} | {ratio(r['prefill_tok_s'], p.get('prefill_tok_s'))} "
          f"| {r['decode_tok_s']:.1f} | {p.get('decode_tok_s', 0):.1f} | {ratio(r['decode_tok_s'], p.get('decode_tok_s'))} "
          f"| {r['load_ms'] / 1000:.1f} s | {r['rss_mb']:.0f} / {r['weights_mb']:.0f} MiB |")
PY
