//! The tokenizer a GGUF file carries (`tokenizer.ggml.*`, as llama.cpp's converter writes
//! it) rebuilt as a tokenizer.json for the same `tokenizers` BPE the checkpoint path uses, so
//! that both give the same ids. Byte-level BPE only ("gpt2"), with the pre-tokenizer that
//! `tokenizer.ggml.pre` names.

use serde_json::{Map, Value, json};

use super::{Gguf, GgufError, optional};
use crate::model::LoadError;

/// llama.cpp's token types: control tokens are special, user-defined ones added but plain.
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;
/// Padding rows past the tokenizer's own ids (`[PAD151665]`): no text maps to them.
const UNUSED: i64 = 5;

/// Qwen2's split (also Qwen3's): digits one at a time.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's split: digits in threes.
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How each `tokenizer.ggml.pre` splits text before BPE, and whether whole words in the
/// vocabulary skip the merges (Llama 3's `ignore_merges`), as their tokenizer.json files say.
fn pre_tokenizer(pre: &str) -> Option<(&'static str, bool, bool)> {
    // (split regex, NFC normalization, ignore_merges)
    match pre {
        "qwen2" => Some((QWEN2_SPLIT, true, false)),
        "llama-bpe" | "llama3" | "smaug-bpe" => Some((LLAMA3_SPLIT, false, true)),
        _ => None,
    }
}

/// tokenizer.json bytes for the file's tokenizer.
pub fn tokenizer_json(header: &Gguf) -> Result<Vec<u8>, LoadError> {
    let file = header.file();
    let model = header.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(GgufError::Unsupported {
            file: file.into(),
            key: "tokenizer.ggml.model".into(),
            found: model.into(),
            supported: "gpt2, byte-level BPE".into(),
        }
        .into());
    }
    let pre = optional(header.get_str("tokenizer.ggml.pre"))?.unwrap_or("default");
    let (split, nfc, ignore_merges) = pre_tokenizer(pre).ok_or_else(|| {
        LoadError::from(GgufError::Unsupported {
            file: file.into(),
            key: "tokenizer.ggml.pre".into(),
            found: pre.into(),
            supported: "qwen2, llama-bpe".into(),
        })
    })?;
    let tokens = header.get_str_array("tokenizer.ggml.tokens")?;
    let types = match header.get("tokenizer.ggml.token_type") {
        None => Vec::new(),
        Some(value) => value
            .as_array()
            .map(|a| a.to_i64s())
            .ok_or_else(|| {
                LoadError::from(GgufError::Value {
                    file: file.into(),
                    key: "tokenizer.ggml.token_type",
                    message: "is not an array".into(),
                })
            })?
            .ok_or_else(|| {
                LoadError::from(GgufError::Value {
                    file: file.into(),
                    key: "tokenizer.ggml.token_type",
                    message: "is not integers".into(),
                })
            })?,
    };
    let merges = header.get_str_array("tokenizer.ggml.merges")?;
    let mut vocab = Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        if let Some(kind @ (CONTROL | USER_DEFINED)) = types.get(id).copied() {
            added.push(json!({
                "id": id,
                "content": token,
                "single_word": false,
                "lstrip": false,
                "rstrip": false,
                "normalized": false,
                "special": kind == CONTROL,
            }));
        }
        if types.get(id).copied() != Some(UNUSED) {
            vocab.insert(token.clone(), json!(id));
        }
    }
    let merges: Vec<Value> = merges
        .iter()
        .map(|m| match m.split_once(' ') {
            Some((a, b)) => Ok(json!([a, b])),
            None => Err(GgufError::Value {
                file: file.into(),
                key: "tokenizer.ggml.merges",
                message: format!("entry {m:?} is not two tokens"),
            }),
        })
        .collect::<Result<_, _>>()?;
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false});
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": if nfc { json!({"type": "NFC"}) } else { Value::Null },
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": split}, "behavior": "Isolated", "invert": false},
            byte_level,
        ]},
        "post_processor": null,
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": ignore_merges,
            "vocab": vocab,
            "merges": merges,
        },
    });
    Ok(serde_json::to_vec(&tokenizer).expect("JSON"))
}
