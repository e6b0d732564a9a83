# Sourced by worker/build.sh and web/build.sh: installs the pinned wasm tools from crates.io
# into a tool cache outside the clone (HEARTH_TOOLS, default ~/.cache/hearth/tools) when they
# are missing, so CI reuses them.

TOOLS="${HEARTH_TOOLS:-$HOME/.cache/hearth/tools}"
WASM_BINDGEN_VERSION=0.2.130

# $1 binary, $2 crate, $3 version, $4 what `--version` prints.
install_tool() {
  local bin="$TOOLS/bin/$1"
  if ! [ -x "$bin" ] || [ "$("$bin" --version 2>/dev/null)" != "$4" ]; then
    echo "installing $2 $3 into $TOOLS" >&2
    # wasm-bindgen-cli's own lock wants a crate version the registry lacks: no --locked.
    CARGO_TARGET_DIR="$TOOLS/target" cargo install --quiet --root "$TOOLS" "$2" --version "$3" --force
  fi
}

install_wasm_bindgen() {
  install_tool wasm-bindgen wasm-bindgen-cli "$WASM_BINDGEN_VERSION" "wasm-bindgen $WASM_BINDGEN_VERSION"
}
