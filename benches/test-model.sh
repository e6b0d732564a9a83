# Sourced by the benches: builds hearth (release) and makes the Qwen2-0.5B-shaped test model
# once. Sets `hearth` (the binary) and `model` (the checkpoint directory).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/hearth/target}
cargo build --release --quiet
hearth=$CARGO_TARGET_DIR/release/hearth
model=${HEARTH_CACHE:-$HOME/.cache/hearth}/test-models/qwen2-0.5b
[ -f "$model/config.json" ] || "$hearth" make-test-model --out "$model" --preset qwen2-0.5b
