#!/usr/bin/env bash
# GGUF files of the test models, written by the PyPI `gguf` package's own GGUFWriter
# (tests/reference/make_gguf.py), for the GGUF tests: ~/.cache/hearth/test-ggufs/PRESET-TYPE.gguf.
# The writer's virtualenv lives outside the clone so CI reuses it; same models, same bytes.
#   HEARTH_BIN=target/release/hearth scripts/make-test-ggufs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${HEARTH_CACHE:-$HOME/.cache/hearth}
venv=$cache/pygguf
bin=${HEARTH_BIN:-${CARGO_TARGET_DIR:-$cache/target}/release/hearth}
stamp="$venv/.requirements"
if ! { [ -x "$venv/bin/python" ] && cmp -s tests/reference/requirements-gguf.txt "$stamp"; }; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/reference/requirements-gguf.txt
  cp tests/reference/requirements-gguf.txt "$stamp"
fi
out=$cache/test-ggufs
mkdir -p "$out"
# Made afresh each run (seconds): a changed converter or preset must not meet stale files.
for preset in tiny-gqa-tied tiny-qwen3 tiny-llama; do
  model=$(mktemp -d)
  "$bin" make-test-model --out "$model" --preset "$preset" 2>/dev/null
  for type in F32 Q8_0 Q4_0; do
    "$venv/bin/python" tests/reference/make_gguf.py "$model" "$out/$preset-$type.gguf" --type "$type" >/dev/null
  done
  rm -rf "$model"
done
echo "test GGUFs (gguf $("$venv/bin/python" -c 'import gguf, importlib.metadata as m; print(m.version("gguf"))')) in $out"
