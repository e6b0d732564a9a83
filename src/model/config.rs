//! `config.json` of a Hugging Face Qwen2 checkpoint, as a typed struct.

use serde::{Deserialize, Serialize};

use super::LoadError;

/// The `model_type` values this engine runs. Qwen2.5 checkpoints also say `qwen2`.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &["qwen2"];

/// The fields of Qwen2's config.json that decide the computation; the rest is ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen2Config {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub max_position_embeddings: usize,
    pub rope_theta: f64,
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Informational: the dtype the checkpoint was saved in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_dtype: Option<String>,
}

impl Qwen2Config {
    pub fn from_json(bytes: &[u8]) -> Result<Self, LoadError> {
        let raw: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| LoadError::Json {
                file: "config.json".into(),
                message: e.to_string(),
            })?;
        let model_type = raw.get("model_type").and_then(|v| v.as_str()).unwrap_or("");
        if !SUPPORTED_MODEL_TYPES.contains(&model_type) {
            return Err(LoadError::UnsupportedModel {
                model_type: model_type.to_string(),
                supported: SUPPORTED_MODEL_TYPES.join(", "),
            });
        }
        let config: Self = serde_json::from_value(raw).map_err(|e| LoadError::Json {
            file: "config.json".into(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        let mut value = serde_json::to_value(self).expect("config serializes");
        let extra = serde_json::json!({
            "architectures": ["Qwen2ForCausalLM"],
            "hidden_act": "silu",
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "use_cache": true,
            "use_sliding_window": false,
            "sliding_window": self.max_position_embeddings,
            "max_window_layers": self.num_hidden_layers,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
        });
        if let (Some(map), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            map.extend(extra);
        }
        serde_json::to_string_pretty(&value).expect("config serializes")
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Query heads that share one key/value head.
    pub fn group_size(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    fn validate(&self) -> Result<(), LoadError> {
        let bad = |message: String| {
            Err(LoadError::Config {
                file: "config.json".into(),
                message,
            })
        };
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return bad(format!("{name} must be positive"));
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad(format!(
                "head dimension {} must be even for RoPE",
                self.head_dim()
            ));
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return bad(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if !(self.rope_theta > 0.0 && self.rms_norm_eps > 0.0) {
            return bad("rope_theta and rms_norm_eps must be positive".into());
        }
        Ok(())
    }
}
