//! `config.json` of a Hugging Face decoder checkpoint, as transformers 4.x and 5.x write it:
//! 5.x moves `rope_theta`/`rope_scaling` into `rope_parameters`, writes `dtype` for
//! `torch_dtype` and `null` where 4.x wrote numbers. A field left out (or `null`) takes the
//! default transformers' config class gives it; a field present with a wrong value is an error.

use serde_json::{Map, Value, json};

use super::LoadError;
use super::architecture::{Bias, Family};

const FILE: &str = "config.json";

/// How RoPE's frequencies are formed.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    /// `theta^(-2i/d)` as they are (transformers' "default").
    Default,
    /// Every frequency divided by `factor`.
    Linear { factor: f64 },
    /// Llama 3's: long wavelengths divided by `factor`, short ones kept, a smooth blend
    /// between (transformers' `_compute_llama3_parameters`).
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position_embeddings: usize,
    },
    /// Each frequency divided by its own factor: how llama.cpp's GGUF files carry Llama 3's
    /// scaling (the `rope_freqs.weight` tensor). No transformers config says this.
    Factors(Vec<f32>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RopeParameters {
    pub theta: f64,
    pub scaling: RopeScaling,
}

/// Which transformers generation's layout [`ModelConfig::to_json`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigWriter {
    Transformers4,
    Transformers5,
}

/// What decides the computation; the rest of config.json is ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub family: Family,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f64,
    pub rope: RopeParameters,
    pub tie_word_embeddings: bool,
    /// q, k and v have a bias.
    pub qkv_bias: bool,
    /// o_proj has a bias (Llama's `attention_bias`).
    pub o_bias: bool,
    /// Informational: the dtype the checkpoint was saved in.
    pub torch_dtype: Option<String>,
}

/// config.json's object, where `null` reads as absent.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn wrong(key: &str, what: &str, value: &Value) -> LoadError {
        LoadError::Config {
            file: FILE.into(),
            message: format!("`{key}` must be {what}, found {value}"),
        }
    }

    fn usize(&self, key: &str) -> Result<Option<usize>, LoadError> {
        // Some writers store integers as floats (`2048.0`): whole values are accepted.
        self.get(key)
            .map(|v| match v.as_u64().or_else(|| whole(v)) {
                Some(n) => Ok(n as usize),
                None => Err(Self::wrong(key, "a non-negative integer", v)),
            })
            .transpose()
    }

    fn required(&self, key: &str) -> Result<usize, LoadError> {
        self.usize(key)?.ok_or_else(|| LoadError::Config {
            file: FILE.into(),
            message: format!("missing field `{key}`"),
        })
    }

    fn f64(&self, key: &str) -> Result<Option<f64>, LoadError> {
        self.get(key)
            .map(|v| v.as_f64().ok_or_else(|| Self::wrong(key, "a number", v)))
            .transpose()
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, LoadError> {
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| Self::wrong(key, "true or false", v))
            })
            .transpose()
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>, LoadError> {
        self.get(key)
            .map(|v| v.as_str().ok_or_else(|| Self::wrong(key, "a string", v)))
            .transpose()
    }
}

fn whole(v: &Value) -> Option<u64> {
    v.as_f64()
        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 2f64.powi(53))
        .map(|f| f as u64)
}

impl ModelConfig {
    pub fn from_json(bytes: &[u8]) -> Result<Self, LoadError> {
        let raw: Value = serde_json::from_slice(bytes).map_err(|e| LoadError::Json {
            file: FILE.into(),
            message: e.to_string(),
        })?;
        let map = raw.as_object().ok_or_else(|| LoadError::Json {
            file: FILE.into(),
            message: "expected an object".into(),
        })?;
        let f = Fields(map);
        let model_type = f.str("model_type")?.unwrap_or("");
        let family =
            Family::by_model_type(model_type).ok_or_else(|| LoadError::UnsupportedModel {
                model_type: model_type.to_string(),
                supported: Family::supported(),
            })?;
        let spec = family.spec();
        let hidden_size = f.required("hidden_size")?;
        let num_attention_heads = f.required("num_attention_heads")?;
        let attention_bias = f.bool("attention_bias")?.unwrap_or(false);
        let qkv_bias = match spec.qkv_bias {
            Bias::Always => true,
            Bias::ByConfig => attention_bias,
        };
        if f.bool("mlp_bias")? == Some(true) {
            return Err(LoadError::Config {
                file: FILE.into(),
                message: "`mlp_bias: true` is not supported (no family hearth runs has MLP biases)"
                    .into(),
            });
        }
        let head_dim = match (f.usize("head_dim")?, spec.default_head_dim) {
            (Some(d), _) | (None, Some(d)) => d,
            (None, None) => hidden_size / num_attention_heads.max(1),
        };
        let config = Self {
            family,
            vocab_size: f.required("vocab_size")?,
            hidden_size,
            intermediate_size: f.required("intermediate_size")?,
            num_hidden_layers: f.required("num_hidden_layers")?,
            num_attention_heads,
            num_key_value_heads: f
                .usize("num_key_value_heads")?
                .unwrap_or(num_attention_heads),
            head_dim,
            max_position_embeddings: f.required("max_position_embeddings")?,
            rms_norm_eps: f.f64("rms_norm_eps")?.unwrap_or(1e-6),
            rope: rope_parameters(&f)?,
            tie_word_embeddings: f.bool("tie_word_embeddings")?.unwrap_or(false),
            qkv_bias,
            o_bias: spec.qkv_bias == Bias::ByConfig && attention_bias,
            torch_dtype: match f.str("dtype")? {
                Some(dtype) => Some(dtype.to_string()),
                None => f.str("torch_dtype")?.map(str::to_string),
            },
        };
        config.validate()?;
        Ok(config)
    }

    /// config.json as `writer`'s transformers generation saves it.
    pub fn to_json(&self, writer: ConfigWriter) -> Value {
        let spec = self.family.spec();
        let mut value = json!({
            "architectures": [spec.architecture],
            "model_type": spec.model_type,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "tie_word_embeddings": self.tie_word_embeddings,
            "hidden_act": "silu",
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "use_cache": true,
        });
        let map = value.as_object_mut().expect("an object");
        let derived = self.hidden_size / self.num_attention_heads;
        if self.family != Family::Qwen2 || self.head_dim != derived {
            map.insert("head_dim".into(), json!(self.head_dim));
        }
        if spec.qkv_bias == Bias::ByConfig {
            map.insert("attention_bias".into(), json!(self.o_bias));
        }
        if self.family != Family::Llama {
            map.insert("use_sliding_window".into(), json!(false));
            map.insert("sliding_window".into(), Value::Null);
            map.insert("max_window_layers".into(), json!(self.num_hidden_layers));
        }
        let scaling = match &self.rope.scaling {
            RopeScaling::Default => json!({"rope_type": "default"}),
            RopeScaling::Linear { factor } => json!({"rope_type": "linear", "factor": factor}),
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            } => json!({
                "rope_type": "llama3",
                "factor": factor,
                "low_freq_factor": low_freq_factor,
                "high_freq_factor": high_freq_factor,
                "original_max_position_embeddings": original_max_position_embeddings,
            }),
            // Only GGUF files carry these; a config written from them says so plainly.
            RopeScaling::Factors(factors) => {
                json!({"rope_type": "frequency_factors", "factors": factors})
            }
        };
        let dtype = self.torch_dtype.clone().map_or(Value::Null, Value::String);
        match writer {
            ConfigWriter::Transformers4 => {
                map.insert("rope_theta".into(), json!(self.rope.theta));
                let scaling = match self.rope.scaling {
                    RopeScaling::Default => Value::Null,
                    _ => scaling,
                };
                map.insert("rope_scaling".into(), scaling);
                map.insert("torch_dtype".into(), dtype);
                map.insert("transformers_version".into(), json!("4.57.1"));
            }
            ConfigWriter::Transformers5 => {
                let mut parameters = scaling;
                parameters["rope_theta"] = json!(self.rope.theta);
                map.insert("rope_parameters".into(), parameters);
                let layers = vec![json!("full_attention"); self.num_hidden_layers];
                map.insert("layer_types".into(), Value::Array(layers));
                map.insert("dtype".into(), dtype);
                map.insert("transformers_version".into(), json!("5.24.0"));
            }
        }
        value
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// Bytes one position takes in a KV cache: a key and a value per layer and key/value
    /// head, in f32.
    pub fn kv_bytes_per_position(&self) -> usize {
        self.num_hidden_layers * 2 * self.num_key_value_heads * self.head_dim * 4
    }

    /// Query heads that share one key/value head.
    pub fn group_size(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    fn validate(&self) -> Result<(), LoadError> {
        let bad = |message: String| {
            Err(LoadError::Config {
                file: FILE.into(),
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
            ("head_dim", self.head_dim),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return bad(format!("{name} must be positive"));
        }
        if !self.head_dim.is_multiple_of(2) {
            return bad(format!("head_dim {} must be even for RoPE", self.head_dim));
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
        if !(self.rope.theta > 0.0 && self.rms_norm_eps > 0.0) {
            return bad("rope_theta and rms_norm_eps must be positive".into());
        }
        Ok(())
    }
}

/// `rope_parameters` (5.x) or `rope_theta` + `rope_scaling` (4.x; `type` in older files).
fn rope_parameters(f: &Fields<'_>) -> Result<RopeParameters, LoadError> {
    let nested = |key: &str| -> Result<Option<Fields<'_>>, LoadError> {
        match f.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields(map))),
            Some(other) => Err(Fields::wrong(key, "an object", other)),
        }
    };
    // 5.x: theta and scaling in one object; 4.x: theta at the top, scaling apart.
    let (theta, scaling_fields, key) = match nested("rope_parameters")? {
        Some(p) => (p.f64("rope_theta")?, Some(p), "rope_parameters"),
        None => (
            f.f64("rope_theta")?,
            nested("rope_scaling")?,
            "rope_scaling",
        ),
    };
    let theta = theta.unwrap_or(10_000.0);
    let Some(s) = scaling_fields else {
        return Ok(RopeParameters {
            theta,
            scaling: RopeScaling::Default,
        });
    };
    let kind = match s.str("rope_type")? {
        Some(kind) => Some(kind),
        None => s.str("type")?,
    };
    let need = |name: &str| -> Result<f64, LoadError> {
        s.f64(name)?.ok_or_else(|| LoadError::Config {
            file: FILE.into(),
            message: format!(
                "`{key}` of type {kind:?} lacks `{name}`",
                kind = kind.unwrap_or("")
            ),
        })
    };
    let scaling = match kind.unwrap_or("default") {
        "default" => RopeScaling::Default,
        "linear" => RopeScaling::Linear {
            factor: need("factor")?,
        },
        "llama3" => RopeScaling::Llama3 {
            factor: need("factor")?,
            low_freq_factor: need("low_freq_factor")?,
            high_freq_factor: need("high_freq_factor")?,
            original_max_position_embeddings: s
                .usize("original_max_position_embeddings")?
                .ok_or_else(|| LoadError::Config {
                    file: FILE.into(),
                    message: format!(
                        "`{key}` of type \"llama3\" lacks `original_max_position_embeddings`"
                    ),
                })?,
        },
        other => {
            return Err(LoadError::Config {
                file: FILE.into(),
                message: format!(
                    "`{key}`: RoPE type {other:?} is not supported (supported: default, linear, llama3)"
                ),
            });
        }
    };
    Ok(RopeParameters { theta, scaling })
}
