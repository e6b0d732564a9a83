//! A GGUF file as a whole model: the config from its `{arch}.*` metadata (llama.cpp's keys),
//! and the tokenizer, chat template and stop ids from its `tokenizer.*` metadata, in the
//! same forms a checkpoint directory gives them.

use serde_json::json;

use super::{GgmlType, Gguf, GgufError, optional};
use crate::model::architecture::{Family, LayerTensor, TensorId};
use crate::model::{LoadError, ModelConfig, Precision, RopeParameters, RopeScaling};

/// llama.cpp's tensor of per-frequency divisors (Llama 3's RoPE scaling, precomputed).
const ROPE_FREQS: &str = "rope_freqs.weight";

/// The model's shape and flags from the file's metadata and tensor list (`bytes`: the file).
pub fn config(header: &Gguf, bytes: &[u8]) -> Result<ModelConfig, LoadError> {
    let arch = header.architecture()?;
    let family = Family::by_gguf_architecture(arch).ok_or_else(|| {
        let known: Vec<&str> = crate::model::architecture::FAMILIES
            .iter()
            .map(|f| f.gguf_architecture)
            .collect();
        GgufError::Unsupported {
            file: header.file().into(),
            key: "general.architecture".into(),
            found: arch.into(),
            supported: known.join(", "),
        }
    })?;
    let key = |name: &str| format!("{arch}.{name}");
    let int = |name: &str| {
        header
            .get_u32(&key(name))
            .map(|v| v as usize)
            .map_err(LoadError::from)
    };
    let maybe_int = |name: &str| {
        optional(header.get_u32(&key(name)))
            .map(|v| v.map(|v| v as usize))
            .map_err(LoadError::from)
    };
    let hidden_size = int("embedding_length")?;
    let num_attention_heads = int("attention.head_count")?;
    let embedding = header.tensor(&TensorId::Embedding.gguf_name())?.shape();
    let has = |id: TensorId| header.tensor(&id.gguf_name()).is_ok();
    let theta = optional(header.get_f64(&key("rope.freq_base")))?.unwrap_or(10_000.0);
    let scaling = match optional(header.get_str(&key("rope.scaling.type")))? {
        Some("linear") => RopeScaling::Linear {
            factor: header.get_f64(&key("rope.scaling.factor"))?,
        },
        None | Some("none") => match header.tensor(ROPE_FREQS) {
            Ok(info) => {
                let mut factors = vec![0f32; info.elements() as usize];
                header.dequantize_tensor(bytes, ROPE_FREQS, &mut factors)?;
                RopeScaling::Factors(factors)
            }
            Err(_) => RopeScaling::Default,
        },
        Some(other) => {
            return Err(GgufError::Unsupported {
                file: header.file().into(),
                key: format!("{arch}.rope.scaling.type"),
                found: other.into(),
                supported: "none, linear".into(),
            }
            .into());
        }
    };
    let config = ModelConfig {
        family,
        vocab_size: embedding.first().copied().unwrap_or(0),
        hidden_size,
        intermediate_size: int("feed_forward_length")?,
        num_hidden_layers: int("block_count")?,
        num_attention_heads,
        num_key_value_heads: maybe_int("attention.head_count_kv")?.unwrap_or(num_attention_heads),
        head_dim: maybe_int("attention.key_length")?
            .unwrap_or(hidden_size / num_attention_heads.max(1)),
        max_position_embeddings: int("context_length")?,
        rms_norm_eps: header.get_f64(&key("attention.layer_norm_rms_epsilon"))?,
        rope: RopeParameters { theta, scaling },
        tie_word_embeddings: !has(TensorId::LmHead),
        qkv_bias: has(TensorId::Layer(0, LayerTensor::QBias)),
        o_bias: has(TensorId::Layer(0, LayerTensor::OBias)),
        torch_dtype: None,
    };
    Ok(config)
}

/// tokenizer_config.json and generation_config.json as a checkpoint directory would give
/// them: the special tokens' names (the template reads `bos_token`), the stop ids and the
/// chat template.
pub struct TextMetadata {
    pub tokenizer_config: Vec<u8>,
    pub generation_config: Vec<u8>,
    pub chat_template: Option<String>,
}

pub fn text_metadata(header: &Gguf) -> Result<TextMetadata, LoadError> {
    let tokens = header.get_str_array("tokenizer.ggml.tokens")?;
    let id = |name: &str| {
        optional(header.get_u32(&format!("tokenizer.ggml.{name}_token_id")))
            .map_err(LoadError::from)
    };
    let token = |id: Option<u32>| id.and_then(|i| tokens.get(i as usize)).cloned();
    let (bos, eos, eot) = (id("bos")?, id("eos")?, id("eot")?);
    let add_bos = optional(header.get_bool("tokenizer.ggml.add_bos_token"))?;
    let stops: Vec<u32> = [eos, eot].into_iter().flatten().collect();
    let tokenizer_config = json!({
        "bos_token": token(bos),
        "eos_token": token(eos),
        "add_bos_token": add_bos,
    });
    let generation_config = json!({"bos_token_id": bos, "eos_token_id": stops});
    let chat_template = optional(header.get_str("tokenizer.chat_template"))?.map(str::to_string);
    Ok(TextMetadata {
        tokenizer_config: serde_json::to_vec(&tokenizer_config).expect("JSON"),
        generation_config: serde_json::to_vec(&generation_config).expect("JSON"),
        chat_template,
    })
}

/// What a GGUF file's weights run in when the user names no dtype: its own format where the
/// CPU kernels read it (f32, f16, bf16; q8_0 and q4_0 blocks as they are), else f16, which
/// holds every other block type's values (k-quants, q4_1, q5_x) within f16 rounding.
pub fn default_precision(header: &Gguf) -> Precision {
    let ty = header
        .tensor(&TensorId::Layer(0, LayerTensor::Down).gguf_name())
        .map(|t| t.ty);
    match ty {
        Ok(GgmlType::F32) => Precision::F32,
        Ok(GgmlType::BF16) => Precision::BF16,
        Ok(GgmlType::Q8_0) => Precision::Q8,
        Ok(GgmlType::Q4_0) => Precision::Q4,
        _ => Precision::F16,
    }
}
