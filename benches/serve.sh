#!/usr/bin/env bash
# Many users on one model: `hearth serve --parallel 8` on the Qwen2-0.5B-shaped test model on
# the CPU, with 1, 2, 4 and 8 streaming clients at once (aggregate completion tokens/s, time to
# first token and inter-token time, p50/p99), then a 5-turn chat after a ~400-token system
# prompt (time to first token per turn: later turns reuse the cached prefix).
#
#   bash benches/serve.sh [DTYPES]          (default: "q8 bf16")
#
# Take it with nothing else running on the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DTYPES=${1:-q8 bf16}
# shellcheck source=benches/test-model.sh
source benches/test-model.sh

results=$(mktemp)
log=$(mktemp)
trap 'rm -f "$results" "$log"; [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true' EXIT
for dt in $DTYPES; do
  "$hearth" serve --model-dir "$model" --backend cpu --dtype "$dt" --parallel 8 --ctx-size 2048 \
    --port 0 --model-id bench 2>"$log" &
  server=$!
  until url=$(grep -o -m1 'serving on http://[0-9.:]*' "$log"); do
    kill -0 "$server" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.5
  done
  python3 benches/serve.py "${url#serving on }" --label "hearth $dt" | tee -a "$results"
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("\nQwen2-0.5B shape on the CPU, --parallel 8; 64-token streamed answers")
print("| server | clients | tok/s (all) | vs 1 client | TTFT p50 / p99 ms | inter-token p50 / p99 ms |")
print("|---|---|---|---|---|---|")
one = {}
for r in rows:
    if "clients" not in r:
        continue
    one.setdefault(r["label"], r["tok_s"])
    print(f"| {r['label']} | {r['clients']} | {r['tok_s']:.1f} | {r['tok_s'] / one[r['label']]:.2f}x "
          f"| {r['ttft_p50_ms']:.0f} / {r['ttft_p99_ms']:.0f} | {r['itl_p50_ms']:.0f} / {r['itl_p99_ms']:.0f} |")
print("\n5-turn chat after a ~400-token system prompt: time to first token per turn, ms")
for r in rows:
    if "chat_ttft_ms" in r:
        turns = r["chat_ttft_ms"]
        print(f"- {r['label']}: " + ", ".join(f"{t:.0f}" for t in turns) + f" (turn 5 / turn 1: {turns[-1] / turns[0]:.2f}x)")
PY
