#!/usr/bin/env bash
# hearth against llama.cpp on the Qwen2-0.5B-shaped test model: llama-bench (through
# benches/peer/llama-bench.sh) and `hearth bench`, in the same run, on the same thread count,
# then one table of tokens/s with the ratios hearth / llama.cpp per dtype: each pair runs RUNS
# times (default 3) and the table gives the medians, of the figures and of the runs' ratios, so
# one noisy minute does not decide.
#
#   bash benches/compare.sh [THREADS] [DTYPES]       (default: 2 "f32 f16 bf16 q8 q4")
#
# PEER_BENCH overrides where peer-bench.sh is. The first run builds llama.cpp (~20 min).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
DTYPES=${2:-f32 f16 bf16 q8 q4}
RUNS=${RUNS:-3}
PEER_BENCH=${PEER_BENCH:-benches/peer/llama-bench.sh}
# shellcheck source=benches/test-model.sh
source benches/test-model.sh

results=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$results" "$errors"' EXIT
# Per dtype, the peer and then hearth, back to back: this machine's memory bandwidth drifts by
# 10-20% over minutes, so figures taken minutes apart would not compare. Each round goes through
# every dtype, so a slow minute falls on one round of several dtypes, not on all rounds of one.
for run in $(seq "$RUNS"); do
  for dt in $DTYPES; do
    peer=$(case $dt in q8) echo q8_0 ;; q4) echo q4_0 ;; *) echo "$dt" ;; esac)
    bash "$PEER_BENCH" "$model" "$THREADS" "$peer" | sed "s/^{/{\"run\":$run,/" >>"$results"
    if out=$("$hearth" bench --model-dir "$model" --backend cpu --dtype "$dt" --threads "$THREADS" --json 2>"$errors"); then
      echo "${out/#\{/\{\"run\":$run,\"engine\":\"hearth\",}" >>"$results"
    else
      why=$( (grep -m1 -E '^(error|hearth):' "$errors" || tail -n 1 "$errors") | tr -d '"\\')
      echo "{\"run\":$run,\"engine\":\"hearth\",\"dtype\":\"$dt\",\"error\":\"$why\"}" >>"$results"
    fi
  done
done

python3 - "$results" "$THREADS" "$RUNS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
name = {"q8": "q8_0", "q4": "q4_0"}
peer = {(r["dtype"], r["run"]): r for r in rows if r["engine"] == "llama.cpp"}
ours = {}
for r in rows:
    if r["engine"] == "hearth":
        ours.setdefault(r["dtype"], []).append(r)
median = statistics.median
print(f"Qwen2-0.5B shape, {sys.argv[2]} threads, medians of {sys.argv[3]} runs; tok/s (prefill 128 tokens, decode 64 from an empty cache)")
print("| dtype | hearth prefill | llama.cpp prefill | ratio | hearth decode | llama.cpp decode | ratio | hearth CPU | hearth load | hearth RSS serving / weights |")
print("|---|---|---|---|---|---|---|---|---|---|")
for dt, runs in ours.items():
    failed = [r for r in runs if "error" in r]
    if failed:
        print(f"| {dt} | {failed[0]['error']} | | | | | | | | |")
        continue
    pairs = [(r, peer.get((name.get(dt, dt), r["run"]), {})) for r in runs]
    cell = {}
    for key in ["prefill_tok_s", "decode_tok_s"]:
        theirs = [p.get(key) for _, p in pairs if p.get(key)]
        ratios = [r[key] / p[key] for r, p in pairs if p.get(key)]
        cell[key] = (median(r[key] for r in runs), median(theirs) if theirs else None,
                     f"{median(ratios):.2f}x" if ratios else "-")
    fmt = lambda v: f"{v:.1f}" if v else "-"
    (a, b, c), (d, e, f) = cell["prefill_tok_s"], cell["decode_tok_s"]
    last = runs[-1]
    print(f"| {dt} | {fmt(a)} | {fmt(b)} | {c} | {fmt(d)} | {fmt(e)} | {f} | {last['device']} "
          f"| {median(r['load_ms'] for r in runs) / 1000:.1f} s | {last['rss_mb']:.0f} / {last['weights_mb']:.0f} MiB |")
PY
