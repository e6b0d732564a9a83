//! `hearth make-test-model`: writes a synthetic checkpoint directory.

use std::path::{Path, PathBuf};

use crate::model::ConfigWriter;
use crate::model::gguf::export::{self, FileType};
use crate::model::safetensors::FileDType;
use crate::model::synthetic::{self, Options, Preset, TokenizerFiles, Vocabulary};

#[derive(clap::Args, Debug, Clone)]
pub struct MakeTestModelOptions {
    /// The directory to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The model shape.
    #[arg(long)]
    pub preset: String,
    /// tokenizer.json to ship with it, its tokenizer_config.json beside it (default: the one
    /// of the preset's family that scripts/fetch-tokenizer.sh fetched).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The dtype of the stored weights (f32, f16, bf16; default: the preset's).
    #[arg(long)]
    pub dtype: Option<String>,
    /// Split the weights over this many files with model.safetensors.index.json.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Write config.json (and the chat template) as this transformers generation saves them:
    /// 4 (rope_theta, torch_dtype, the template in tokenizer_config.json) or 5
    /// (rope_parameters, dtype, chat_template.jinja).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(4..=5))]
    pub transformers: u8,
    /// safetensors (a checkpoint directory at --out) or gguf (one file at --out, in
    /// llama.cpp's layout, with the same weights).
    #[arg(long, default_value = "safetensors")]
    pub format: String,
    /// With --format gguf: F32, F16, Q8_0, Q4_0, Q4_K, Q6_K or Q4_K_M.
    #[arg(long, default_value = "F32")]
    pub gguf_type: String,
}

impl MakeTestModelOptions {
    /// A preset with its defaults, written to `out`.
    pub fn new(out: &Path, preset: &str) -> Self {
        Self {
            out: out.to_path_buf(),
            preset: preset.into(),
            tokenizer: None,
            seed: 0,
            dtype: None,
            shards: 1,
            transformers: 4,
            format: "safetensors".into(),
            gguf_type: "F32".into(),
        }
    }
}

/// Where scripts/fetch-tokenizer.sh puts the real tokenizer of `vocabulary`.
pub fn default_tokenizer(vocabulary: Vocabulary) -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home)
        .join(".cache/hearth")
        .join(vocabulary.cache_dir())
        .join("tokenizer.json")
}

pub fn preset_help() -> String {
    synthetic::presets()
        .iter()
        .map(|p| format!("  {:<16} {}", p.name, p.about))
        .collect::<Vec<_>>()
        .join("\n")
}

/// tokenizer.json at `path` and the tokenizer_config.json beside it, if any.
pub fn tokenizer_files(path: &Path) -> Result<TokenizerFiles, String> {
    let tokenizer_json = std::fs::read(path).map_err(|e| {
        format!(
            "{}: {e}; fetch the tokenizers with `bash scripts/fetch-tokenizer.sh` or pass --tokenizer FILE",
            path.display()
        )
    })?;
    let config_path = path.with_file_name("tokenizer_config.json");
    let tokenizer_config = match std::fs::read(&config_path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{}: {e}", config_path.display())),
    };
    Ok(TokenizerFiles {
        tokenizer_json,
        tokenizer_config,
    })
}

pub fn run(options: &MakeTestModelOptions) -> Result<(), String> {
    let preset: Preset = synthetic::preset(&options.preset).ok_or_else(|| {
        format!(
            "unknown preset {:?}; the presets are:\n{}",
            options.preset,
            preset_help()
        )
    })?;
    let dtype = match &options.dtype {
        None => preset.dtype,
        Some(name) => FileDType::parse(name)
            .ok_or_else(|| format!("unknown dtype {name:?}; use f32, f16 or bf16"))?,
    };
    let tokenizer_path = options
        .tokenizer
        .clone()
        .unwrap_or_else(|| default_tokenizer(preset.vocabulary));
    let tokenizer = tokenizer_files(&tokenizer_path)?;
    match options.format.as_str() {
        "safetensors" => {}
        "gguf" => return write_gguf(options, &preset, &tokenizer),
        other => {
            return Err(format!(
                "unknown --format {other:?}; use safetensors or gguf"
            ));
        }
    }
    if options.shards == 0 {
        return Err("--shards must be at least 1".into());
    }
    let writer = match options.transformers {
        5 => ConfigWriter::Transformers5,
        _ => ConfigWriter::Transformers4,
    };
    let write = Options {
        seed: options.seed,
        dtype,
        shards: options.shards,
        writer,
    };
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, bytes) in synthetic::checkpoint_files(&preset, &write, &tokenizer) {
        let path = out.join(&name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    tracing::info!(preset = preset.name, dir = %out.display(), "wrote test model");
    Ok(())
}

fn write_gguf(
    options: &MakeTestModelOptions,
    preset: &Preset,
    tokenizer: &TokenizerFiles,
) -> Result<(), String> {
    let file_type = FileType::parse(&options.gguf_type).ok_or_else(|| {
        format!(
            "unknown --gguf-type {:?}; use {}",
            options.gguf_type,
            FileType::NAMES
        )
    })?;
    let bytes = export::test_model(preset, options.seed, file_type, tokenizer)
        .map_err(|e| e.to_string())?;
    let out = &options.out;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    tracing::info!(preset = preset.name, file = %out.display(), "wrote test GGUF");
    Ok(())
}
