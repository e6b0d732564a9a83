#!/usr/bin/env bash
# Side-by-side peer: llama.cpp's llama-bench on the same Qwen2 checkpoint directory.
#   llama-bench.sh MODEL_DIR [THREADS] [DTYPES]      e.g. llama-bench.sh models/q05 2 "f16 bf16 q8_0"
# Prints one JSON line per dtype: {"engine":"llama.cpp","dtype":..,"prefill_tok_s":..,"decode_tok_s":..}
# (prefill = 128-token prompt, decode = 64 tokens, the llama-bench pp128/tg64 pair).
# First run builds llama.cpp (the tree vendored in the llama-cpp-python 0.3.36 sdist from PyPI) into
# $PEER_CACHE (default ~/.cache/hearth-peers): about 20 minutes on 2 cores; later runs reuse it.
# Measure your engine in the same run, right after this, on the same thread count: the ratio is
# what counts, absolute figures on a shared machine are not stable.
set -euo pipefail
MODEL=${1:?usage: llama-bench.sh MODEL_DIR [THREADS] [DTYPES]}
THREADS=${2:-2}
DTYPES=${3:-f16 q8_0}
HERE=$(cd "$(dirname "$0")" && pwd)
C=${PEER_CACHE:-$HOME/.cache/hearth-peers}
mkdir -p "$C"
LLAMA=$C/llama.cpp
if [ ! -x "$LLAMA/build/bin/llama-bench" ]; then
  command -v cmake >/dev/null || { apt-get update -qq && apt-get install -y -qq cmake build-essential >/dev/null; }
  if [ ! -d "$LLAMA" ]; then
    python3 -m pip download -q --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d "$C/dl"
    tar xzf "$C/dl/llama_cpp_python-0.3.36.tar.gz" -C "$C/dl"
    cp -r "$C/dl/llama_cpp_python-0.3.36/vendor/llama.cpp" "$LLAMA"
  fi
  cmake -S "$LLAMA" -B "$LLAMA/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
  cmake --build "$LLAMA/build" --config Release -j"$(nproc)" --target llama-bench llama-quantize >/dev/null
fi
PY=$C/venv/bin/python
[ -x "$PY" ] || { python3 -m venv "$C/venv"; "$C/venv/bin/pip" install -q numpy ml_dtypes tqdm pyyaml requests sentencepiece; }
export GGUF_PY=$LLAMA/gguf-py
key=$(cd "$MODEL" && ls -l --time-style=+%s model*.safetensors config.json | md5sum | cut -c1-12)
G=$C/gguf/$key; mkdir -p "$G"
for dt in $DTYPES; do
  f=$G/model-$dt.gguf
  if [ ! -f "$f" ]; then
    case $dt in
      f32|f16|bf16) "$PY" "$HERE/hf_qwen2_to_gguf.py" "$MODEL" "$f" --outtype "$dt" >/dev/null ;;
      *) [ -f "$G/model-f16.gguf" ] || "$PY" "$HERE/hf_qwen2_to_gguf.py" "$MODEL" "$G/model-f16.gguf" --outtype f16 >/dev/null
         "$LLAMA/build/bin/llama-quantize" "$G/model-f16.gguf" "$f" "$(echo "$dt" | tr a-z A-Z)" "$THREADS" >/dev/null 2>&1 ;;
    esac
  fi
  "$LLAMA/build/bin/llama-bench" -m "$f" -p 128 -n 64 -t "$THREADS" -r 3 -o json 2>/dev/null | "$PY" -c '
import json, sys
rows = json.load(sys.stdin); dt = sys.argv[1]
pp = [r["avg_ts"] for r in rows if r["n_prompt"]]; tg = [r["avg_ts"] for r in rows if r["n_gen"]]
print(json.dumps({"engine": "llama.cpp", "dtype": dt, "prefill_tok_s": round(pp[0], 2), "decode_tok_s": round(tg[0], 2)}))' "$dt"
done
