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

# wasm-pack.toml's browser builds as shell variables: the shared settings (TARGET, PROFILE,
# BINDGEN_FLAGS, NO_DEFAULT, OUT_NAME, DIST_DIR), BUILDS (their names), and per build
# NAME_FEATURES, NAME_TOOLCHAIN, NAME_RUSTFLAGS, NAME_CARGO_FLAGS, NAME_TARGET_DIR,
# NAME_OUT_DIR; `build_var NAME SETTING` reads one.
read_wasm_builds() {
  eval "$(python3 - <<'PY'
import os, shlex, tomllib
s = tomllib.load(open("wasm-pack.toml", "rb"))
b, o = s["build"], s["output"]
q = lambda v: shlex.quote(v if isinstance(v, str) else " ".join(v))
print(f"TARGET={q(b['target'])} PROFILE={q(b['profile'])} BINDGEN_FLAGS={q(b['wasm-bindgen-flags'])}")
print(f"NO_DEFAULT={'--no-default-features' if b['no-default-features'] else ''}")
print(f"OUT_NAME={q(o['out-name'])} DIST_DIR={q(o['dist-dir'])} BUILDS={q(list(s['builds']))}")
for name, build in s["builds"].items():
    n = name.upper()
    print(f"{n}_FEATURES={q(','.join(build['features']))} {n}_TOOLCHAIN={q(build['toolchain'])}")
    print(f"{n}_RUSTFLAGS={q(b['rustflags'] + build.get('rustflags', []))} {n}_CARGO_FLAGS={q(build.get('cargo-flags', []))}")
    print(f"{n}_TARGET_DIR={q(os.path.expanduser(build['target-dir']))} {n}_OUT_DIR={q(build['out-dir'])}")
PY
)"
}

build_var() {
  local name="${1^^}_$2"
  printf '%s' "${!name}"
}

# The toolchain of build $1 with the wasm32 target and clippy (and rust-src where it rebuilds
# std); rustup skips what is there.
install_build_toolchain() {
  local toolchain components=(--target wasm32-unknown-unknown --component clippy)
  toolchain=$(build_var "$1" TOOLCHAIN)
  [ -z "$(build_var "$1" CARGO_FLAGS)" ] || components+=(--component rust-src)
  rustup toolchain install "$toolchain" --profile minimal "${components[@]}" >/dev/null 2>&1 \
    || rustup toolchain install "$toolchain" --profile minimal "${components[@]}"
}
