//! A test model as one GGUF file, in llama.cpp's layout (the metadata keys [`super::model`]
//! reads, GGUF tensor names, Llama's q/k rows permuted, `rope_freqs` for Llama 3's scaling),
//! with the same seeded values as the safetensors checkpoint: `hearth make-test-model
//! --format gguf --gguf-type TYPE`.

use serde_json::Value as Json;

use super::quantize::quantize;
use super::writer::GgufWriter;
use super::{Array, GgmlType, Value};
use crate::model::architecture::{LayerTensor, TensorId};
use crate::model::synthetic::{Preset, QWEN2_CHAT_TEMPLATE, TokenizerFiles, for_each_tensor};
use crate::model::{Family, RopeParameters, RopeScaling, rope};

/// What `--gguf-type` names: one type for every matrix, or llama.cpp's Q4_K_M mix (Q6_K for
/// attn_v, ffn_down and the output, Q4_K for the rest). Rows that are not a whole number of
/// 256-value super-blocks fall back to Q8_0, as llama.cpp falls back for such shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Uniform(GgmlType),
    Q4KM,
}

impl FileType {
    pub const NAMES: &str = "F32, F16, Q8_0, Q4_0, Q4_K, Q6_K or Q4_K_M";

    pub fn parse(name: &str) -> Option<Self> {
        let ty = match name.to_ascii_uppercase().as_str() {
            "Q4_K_M" => return Some(Self::Q4KM),
            "F32" => GgmlType::F32,
            "F16" => GgmlType::F16,
            "Q8_0" => GgmlType::Q8_0,
            "Q4_0" => GgmlType::Q4_0,
            "Q4_K" => GgmlType::Q4_K,
            "Q6_K" => GgmlType::Q6_K,
            _ => return None,
        };
        Some(Self::Uniform(ty))
    }

    /// llama.cpp's `general.file_type` (its `llama_ftype`).
    fn id(self) -> u32 {
        match self {
            Self::Uniform(GgmlType::F16) => 1,
            Self::Uniform(GgmlType::Q4_0) => 2,
            Self::Uniform(GgmlType::Q8_0) => 7,
            Self::Uniform(GgmlType::Q4_K) => 14,
            Self::Q4KM => 15,
            Self::Uniform(GgmlType::Q6_K) => 18,
            _ => 0,
        }
    }

    fn for_tensor(self, id: TensorId, shape: &[usize]) -> GgmlType {
        let ty = match (self, id) {
            _ if shape.len() == 1 => return GgmlType::F32,
            (Self::Uniform(ty), _) => ty,
            (
                Self::Q4KM,
                TensorId::LmHead | TensorId::Layer(_, LayerTensor::V | LayerTensor::Down),
            ) => GgmlType::Q6_K,
            (Self::Q4KM, _) => GgmlType::Q4_K,
        };
        match shape.last() {
            Some(cols) if !cols.is_multiple_of(ty.block_size()) => GgmlType::Q8_0,
            _ => ty,
        }
    }
}

fn string_array(items: Vec<String>) -> Value {
    Value::Array(Array::String(items))
}

/// Why a test model's GGUF file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0} blocks cannot be written")]
    Blocks(&'static str),
    #[error("{file}: {message}")]
    Tokenizer { file: &'static str, message: String },
}

fn tokenizer_error(file: &'static str, message: impl std::fmt::Display) -> ExportError {
    ExportError::Tokenizer {
        file,
        message: message.to_string(),
    }
}

/// The GGUF file's bytes.
pub fn test_model(
    preset: &Preset,
    seed: u64,
    file_type: FileType,
    tokenizer: &TokenizerFiles,
) -> Result<Vec<u8>, ExportError> {
    let c = &preset.config;
    let spec = c.family.spec();
    let arch = spec.gguf_architecture;
    let mut w = GgufWriter::default();
    let key = |name: &str| format!("{arch}.{name}");
    w.set("general.architecture", Value::String(arch.into()));
    w.set("general.name", Value::String(preset.name.into()));
    w.set("general.file_type", Value::U32(file_type.id()));
    w.set("general.quantization_version", Value::U32(2));
    for (name, value) in [
        ("context_length", c.max_position_embeddings),
        ("embedding_length", c.hidden_size),
        ("block_count", c.num_hidden_layers),
        ("feed_forward_length", c.intermediate_size),
        ("attention.head_count", c.num_attention_heads),
        ("attention.head_count_kv", c.num_key_value_heads),
        ("attention.key_length", c.head_dim),
        ("attention.value_length", c.head_dim),
        ("vocab_size", c.vocab_size),
    ] {
        w.set(&key(name), Value::U32(value as u32));
    }
    w.set(
        &key("attention.layer_norm_rms_epsilon"),
        Value::F32(c.rms_norm_eps as f32),
    );
    w.set(&key("rope.freq_base"), Value::F32(c.rope.theta as f32));
    if let RopeScaling::Linear { factor } = c.rope.scaling {
        w.set(&key("rope.scaling.type"), Value::String("linear".into()));
        w.set(&key("rope.scaling.factor"), Value::F32(factor as f32));
    }
    tokenizer_metadata(&mut w, preset, tokenizer)?;
    if matches!(c.rope.scaling, RopeScaling::Llama3 { .. }) {
        let plain = RopeParameters {
            theta: c.rope.theta,
            scaling: RopeScaling::Default,
        };
        let (plain, scaled) = (
            rope::inv_freq(c.head_dim, &plain),
            rope::inv_freq(c.head_dim, &c.rope),
        );
        let factors: Vec<u8> = plain
            .iter()
            .zip(&scaled)
            .flat_map(|(p, s)| (p / s).to_le_bytes())
            .collect();
        w.tensor("rope_freqs.weight", &[plain.len()], GgmlType::F32, factors);
    }
    let mut failed = None;
    for_each_tensor(c, seed, |tensor, mut values| {
        let heads = match tensor.id {
            TensorId::Layer(_, LayerTensor::Q | LayerTensor::QBias) => Some(c.num_attention_heads),
            TensorId::Layer(_, LayerTensor::K | LayerTensor::KBias) => Some(c.num_key_value_heads),
            _ => None,
        };
        if let (true, Some(heads)) = (spec.gguf_permuted_qk, heads) {
            let cols = tensor.shape.get(1).copied().unwrap_or(1);
            values = permute(&values, heads, c.head_dim, cols);
        }
        let ty = file_type.for_tensor(tensor.id, &tensor.shape);
        match quantize(ty, &values) {
            Some(bytes) => w.tensor(&tensor.id.gguf_name(), &tensor.shape, ty, bytes),
            None => failed = Some(ty),
        }
    });
    if let Some(ty) = failed {
        return Err(ExportError::Blocks(ty.name()));
    }
    Ok(w.to_bytes())
}

/// llama.cpp's converter's order of Llama's q/k rows: per head, row `2j + half` holds row
/// `half · d/2 + j` (see `weights::unpermute`, which undoes it).
fn permute(values: &[f32], heads: usize, d: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    for h in 0..heads {
        for half in 0..2 {
            for j in 0..d / 2 {
                let (from, to) = (h * d + half * d / 2 + j, h * d + 2 * j + half);
                out[to * cols..(to + 1) * cols]
                    .copy_from_slice(&values[from * cols..(from + 1) * cols]);
            }
        }
    }
    out
}

/// `tokenizer.ggml.*` and the chat template, from the tokenizer's own files, as llama.cpp's
/// converter writes a byte-level BPE.
fn tokenizer_metadata(
    w: &mut GgufWriter,
    preset: &Preset,
    files: &TokenizerFiles,
) -> Result<(), ExportError> {
    let json: Json = serde_json::from_slice(&files.tokenizer_json)
        .map_err(|e| tokenizer_error("tokenizer.json", e))?;
    let config: Json = match &files.tokenizer_config {
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|e| tokenizer_error("tokenizer_config.json", e))?,
        None => Json::Null,
    };
    let rows = preset.config.vocab_size;
    let mut tokens: Vec<Option<String>> = vec![None; rows];
    let mut types = vec![1i32; rows];
    let vocab = json["model"]["vocab"]
        .as_object()
        .ok_or_else(|| tokenizer_error("tokenizer.json", "no model.vocab"))?;
    for (token, id) in vocab {
        if let Some(slot) = id.as_u64().and_then(|i| tokens.get_mut(i as usize)) {
            *slot = Some(token.clone());
        }
    }
    for added in json["added_tokens"].as_array().into_iter().flatten() {
        let id = added["id"].as_u64().unwrap_or(u64::MAX) as usize;
        if let (Some(slot), Some(content)) = (tokens.get_mut(id), added["content"].as_str()) {
            *slot = Some(content.to_string());
            types[id] = if added["special"].as_bool() == Some(true) {
                3
            } else {
                4
            };
        }
    }
    let tokens: Vec<String> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            t.unwrap_or_else(|| {
                types[i] = 5;
                format!("[PAD{i}]")
            })
        })
        .collect();
    let merges = json["model"]["merges"]
        .as_array()
        .ok_or_else(|| tokenizer_error("tokenizer.json", "no model.merges"))?
        .iter()
        .map(|m| match m {
            Json::String(s) => s.clone(),
            pair => pair
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter_map(Json::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
        })
        .collect();
    let id_of = |name: &str| tokens.iter().position(|t| t == name).map(|i| i as u32);
    let token_name = |field: &str| match &config[field] {
        Json::String(s) => Some(s.clone()),
        Json::Object(o) => o.get("content").and_then(Json::as_str).map(str::to_string),
        _ => None,
    };
    let (pre, template) = match preset.config.family {
        Family::Qwen2 => ("qwen2", Some(QWEN2_CHAT_TEMPLATE.to_string())),
        Family::Qwen3 => (
            "qwen2",
            config["chat_template"].as_str().map(str::to_string),
        ),
        Family::Llama => (
            "llama-bpe",
            config["chat_template"].as_str().map(str::to_string),
        ),
    };
    let eos = token_name("eos_token").unwrap_or_else(|| "<|im_end|>".into());
    let bos = token_name("bos_token");
    w.set("tokenizer.ggml.model", Value::String("gpt2".into()));
    w.set("tokenizer.ggml.pre", Value::String(pre.into()));
    if let Some(id) = id_of(&eos) {
        w.set("tokenizer.ggml.eos_token_id", Value::U32(id));
    }
    if let Some(id) = bos.as_deref().and_then(id_of) {
        w.set("tokenizer.ggml.bos_token_id", Value::U32(id));
    }
    w.set(
        "tokenizer.ggml.add_bos_token",
        Value::Bool(config["add_bos_token"].as_bool().unwrap_or(false)),
    );
    w.set("tokenizer.ggml.tokens", string_array(tokens));
    w.set("tokenizer.ggml.token_type", Value::Array(Array::I32(types)));
    w.set("tokenizer.ggml.merges", string_array(merges));
    if let Some(template) = template {
        w.set("tokenizer.chat_template", Value::String(template));
    }
    Ok(())
}
