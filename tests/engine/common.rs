//! Shared by the integration tests: the real tokenizer, in-memory test models, golden files.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;
use hearth::engine::Engine;
use hearth::model::ConfigWriter;
use hearth::model::Precision;
use hearth::model::safetensors::Blob;
use hearth::model::safetensors::FileDType;
use hearth::model::synthetic::{self, Options, TokenizerFiles, Vocabulary};
use hearth::native::make_test_model::{self, MakeTestModelOptions};

/// Where scripts/fetch-tokenizer.sh put the real Qwen tokenizer.
pub fn tokenizer_dir() -> PathBuf {
    match std::env::var_os("HEARTH_TOKENIZER_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(&std::env::var_os("HOME").expect("HOME")).join(".cache/hearth/tokenizer"),
    }
}

pub fn tokenizer_json() -> Vec<u8> {
    tokenizer_files(Vocabulary::Qwen).tokenizer_json
}

/// The real tokenizer of `vocabulary` and its tokenizer_config.json, as scripts/fetch-tokenizer.sh
/// left them.
pub fn tokenizer_files(vocabulary: Vocabulary) -> TokenizerFiles {
    let path = match vocabulary {
        Vocabulary::Qwen => tokenizer_dir().join("tokenizer.json"),
        other => make_test_model::default_tokenizer(other),
    };
    make_test_model::tokenizer_files(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A test model's files, in memory, exactly as `hearth make-test-model --preset NAME` writes them.
pub fn model_files(preset: &str) -> HashMap<String, Blob> {
    model_files_with(preset, None, 1)
}

pub fn model_files_with(
    preset: &str,
    dtype: Option<FileDType>,
    shards: usize,
) -> HashMap<String, Blob> {
    let preset = synthetic::preset(preset).expect("known preset");
    let options = Options {
        seed: 0,
        dtype: dtype.unwrap_or(preset.dtype),
        shards,
        writer: ConfigWriter::Transformers4,
    };
    written(&preset, &options)
}

/// `preset`'s files as `options` write them.
pub fn written(preset: &synthetic::Preset, options: &Options) -> HashMap<String, Blob> {
    synthetic::checkpoint_files(preset, options, &tokenizer_files(preset.vocabulary))
        .into_iter()
        .map(|(name, bytes)| (name, Arc::new(bytes) as Blob))
        .collect()
}

/// `hearth make-test-model --preset tiny-gqa-tied` written afresh to a directory of its own
/// under the target's temp dir (tests run in parallel, so each names its own).
pub fn tiny_model_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let mut options = MakeTestModelOptions::new(&dir, "tiny-gqa-tied");
    options.tokenizer = Some(tokenizer_dir().join("tokenizer.json"));
    make_test_model::run(&options).expect("test model written");
    dir
}

pub fn load(preset: &str, device: &Device, precision: Precision) -> Engine {
    Engine::load(&model_files(preset), device, precision).expect("test model loads")
}

pub fn golden(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The largest difference between `logits` and a golden row summary (top 100 values, mean,
/// max, L2 norm), and whether the top ids agree in order.
pub fn row_error(logits: &[f32], golden: &serde_json::Value) -> f64 {
    let ids = golden["top_ids"].as_array().expect("top_ids");
    let values = golden["top_logits"].as_array().expect("top_logits");
    let mut worst: f64 = 0.0;
    for (id, value) in ids.iter().zip(values) {
        let ours = logits[id.as_u64().unwrap() as usize] as f64;
        worst = worst.max((ours - value.as_f64().unwrap()).abs());
    }
    let n = logits.len() as f64;
    let mean = logits.iter().map(|&v| v as f64).sum::<f64>() / n;
    let max = logits.iter().fold(f64::MIN, |m, &v| m.max(v as f64));
    let l2 = logits
        .iter()
        .map(|&v| (v as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    worst = worst.max((mean - golden["mean"].as_f64().unwrap()).abs());
    worst = worst.max((max - golden["max"].as_f64().unwrap()).abs());
    // The norm sums 151936 squares: compare it relative to its size.
    let g_l2 = golden["l2"].as_f64().unwrap();
    worst.max((l2 - g_l2).abs() / g_l2.max(1.0))
}

pub fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best as u32
}
