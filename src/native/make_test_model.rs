//! `hearth make-test-model`: writes a synthetic checkpoint directory.

use std::path::{Path, PathBuf};

use crate::model::safetensors::FileDType;
use crate::model::synthetic::{self, Preset};

/// Where scripts/fetch-tokenizer.sh puts the real Qwen tokenizer.
pub fn default_tokenizer() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/hearth/tokenizer/tokenizer.json")
}

pub fn preset_help() -> String {
    synthetic::presets()
        .iter()
        .map(|p| format!("  {:<16} {}", p.name, p.about))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn run(
    out: &Path,
    preset: &str,
    tokenizer: Option<&Path>,
    seed: u64,
    dtype: Option<&str>,
    shards: usize,
) -> Result<(), String> {
    let preset: Preset = synthetic::preset(preset).ok_or_else(|| {
        format!(
            "unknown preset {preset:?}; the presets are:\n{}",
            preset_help()
        )
    })?;
    let dtype = match dtype {
        None => preset.dtype,
        Some(name) => FileDType::parse(name)
            .ok_or_else(|| format!("unknown dtype {name:?}; use f32, f16 or bf16"))?,
    };
    let tokenizer_path = tokenizer
        .map(Path::to_path_buf)
        .unwrap_or_else(default_tokenizer);
    let tokenizer_json = std::fs::read(&tokenizer_path).map_err(|e| {
        format!(
            "{}: {e}; fetch the Qwen tokenizer with `bash scripts/fetch-tokenizer.sh` or pass --tokenizer FILE",
            tokenizer_path.display()
        )
    })?;
    if shards == 0 {
        return Err("--shards must be at least 1".into());
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, bytes) in synthetic::checkpoint_files(&preset, seed, dtype, shards, tokenizer_json) {
        let path = out.join(&name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    tracing::info!(preset = preset.name, dir = %out.display(), "wrote test model");
    Ok(())
}
