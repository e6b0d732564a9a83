//! The two JSON files next to `tokenizer.json` that shape chat: `tokenizer_config.json` (chat
//! template, special token names) and `generation_config.json` (stop ids, sampling defaults).
//!
//! Both are parsed leniently — unknown keys are ignored and missing keys become `None` — because
//! the Hub has many generations of these files; only a present but malformed value is an error.

use serde::Deserialize;
use serde_json::Value;

use super::TextError;

const TOKENIZER_CONFIG: &str = "tokenizer_config.json";
const GENERATION_CONFIG: &str = "generation_config.json";

/// What hearth needs from `tokenizer_config.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenizerConfig {
    /// The default chat template, if the file has one.
    pub chat_template: Option<String>,
    /// Every named template when `chat_template` is a list (`"default"`, `"tool_use"`, …).
    pub named_chat_templates: Vec<(String, String)>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub pad_token: Option<String>,
    pub unk_token: Option<String>,
    pub add_bos_token: Option<bool>,
    pub clean_up_tokenization_spaces: Option<bool>,
}

#[derive(Deserialize)]
struct RawTokenizerConfig {
    #[serde(default)]
    chat_template: Option<Value>,
    #[serde(default)]
    bos_token: Option<Value>,
    #[serde(default)]
    eos_token: Option<Value>,
    #[serde(default)]
    pad_token: Option<Value>,
    #[serde(default)]
    unk_token: Option<Value>,
    #[serde(default)]
    add_bos_token: Option<bool>,
    #[serde(default)]
    clean_up_tokenization_spaces: Option<bool>,
}

impl TokenizerConfig {
    /// Parses the contents of a `tokenizer_config.json`.
    pub fn from_bytes(json: &[u8]) -> Result<Self, TextError> {
        let raw: RawTokenizerConfig =
            serde_json::from_slice(json).map_err(|e| config_err(TOKENIZER_CONFIG, e))?;
        let (chat_template, named_chat_templates) = parse_chat_template(raw.chat_template)?;
        Ok(Self {
            chat_template,
            named_chat_templates,
            bos_token: special_token("bos_token", raw.bos_token)?,
            eos_token: special_token("eos_token", raw.eos_token)?,
            pad_token: special_token("pad_token", raw.pad_token)?,
            unk_token: special_token("unk_token", raw.unk_token)?,
            add_bos_token: raw.add_bos_token,
            clean_up_tokenization_spaces: raw.clean_up_tokenization_spaces,
        })
    }

    /// Reads and parses a `tokenizer_config.json` file.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, TextError> {
        Self::from_bytes(&read(TOKENIZER_CONFIG, path.as_ref())?)
    }

    /// A named template from a list-style `chat_template` (e.g. `"tool_use"`).
    pub fn named_chat_template(&self, name: &str) -> Option<&str> {
        self.named_chat_templates
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }
}

/// `(name, template)` pairs of a list-style `chat_template`.
type NamedTemplates = Vec<(String, String)>;

/// `chat_template` is either one string or a list of `{name, template}`; transformers uses the
/// entry named `"default"` when no name is asked for, and refuses a list without one.
fn parse_chat_template(
    value: Option<Value>,
) -> Result<(Option<String>, NamedTemplates), TextError> {
    let bad = |msg: String| TextError::Config {
        file: TOKENIZER_CONFIG,
        message: format!("chat_template: {msg}"),
    };
    match value {
        None | Some(Value::Null) => Ok((None, Vec::new())),
        Some(Value::String(s)) => Ok((Some(s), Vec::new())),
        Some(Value::Array(items)) => {
            #[derive(Deserialize)]
            struct Named {
                name: String,
                template: String,
            }
            let named = items
                .into_iter()
                .map(|item| {
                    serde_json::from_value::<Named>(item)
                        .map(|n| (n.name, n.template))
                        .map_err(|e| bad(format!("list entries must be {{name, template}}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let default = named.iter().find(|(n, _)| n == "default");
            match default {
                Some((_, t)) => Ok((Some(t.clone()), named)),
                None => {
                    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
                    Err(bad(format!(
                        "the list has no \"default\" template (found: {})",
                        names.join(", ")
                    )))
                }
            }
        }
        Some(other) => Err(bad(format!(
            "expected a string or a list, got {}",
            kind(&other)
        ))),
    }
}

/// Special tokens are written as a plain string, `null`, or a serialized `AddedToken` object
/// (`{"content": "<|im_end|>", "lstrip": false, …}`).
fn special_token(field: &str, value: Option<Value>) -> Result<Option<String>, TextError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Object(mut map)) => match map.remove("content") {
            Some(Value::String(s)) => Ok(Some(s)),
            _ => Err(TextError::Config {
                file: TOKENIZER_CONFIG,
                message: format!("{field}: object without a string \"content\""),
            }),
        },
        Some(other) => Err(TextError::Config {
            file: TOKENIZER_CONFIG,
            message: format!(
                "{field}: expected a string, null or an object with \"content\", got {}",
                kind(&other)
            ),
        }),
    }
}

/// What hearth needs from `generation_config.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationConfig {
    pub bos_token_id: Option<u32>,
    /// `eos_token_id`, which the file writes as one id or a list.
    pub eos_token_ids: Vec<u32>,
    pub pad_token_id: Option<u32>,
    pub do_sample: Option<bool>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    pub repetition_penalty: Option<f64>,
}

#[derive(Deserialize)]
struct RawGenerationConfig {
    #[serde(default)]
    bos_token_id: Option<Value>,
    #[serde(default)]
    eos_token_id: Option<Value>,
    #[serde(default)]
    pad_token_id: Option<Value>,
    #[serde(default)]
    do_sample: Option<bool>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    repetition_penalty: Option<f64>,
}

impl GenerationConfig {
    /// Parses the contents of a `generation_config.json`.
    pub fn from_bytes(json: &[u8]) -> Result<Self, TextError> {
        let raw: RawGenerationConfig =
            serde_json::from_slice(json).map_err(|e| config_err(GENERATION_CONFIG, e))?;
        Ok(Self {
            bos_token_id: single_id("bos_token_id", raw.bos_token_id)?,
            eos_token_ids: id_list("eos_token_id", raw.eos_token_id)?,
            pad_token_id: single_id("pad_token_id", raw.pad_token_id)?,
            do_sample: raw.do_sample,
            temperature: raw.temperature,
            top_p: raw.top_p,
            top_k: raw.top_k,
            repetition_penalty: raw.repetition_penalty,
        })
    }

    /// Reads and parses a `generation_config.json` file.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, TextError> {
        Self::from_bytes(&read(GENERATION_CONFIG, path.as_ref())?)
    }
}

fn token_id_value(field: &str, v: &Value) -> Result<u32, TextError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| TextError::Config {
            file: GENERATION_CONFIG,
            message: format!("{field}: expected a token id, got {v}"),
        })
}

fn single_id(field: &str, value: Option<Value>) -> Result<Option<u32>, TextError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => token_id_value(field, &v).map(Some),
    }
}

fn id_list(field: &str, value: Option<Value>) -> Result<Vec<u32>, TextError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|v| token_id_value(field, v)).collect(),
        Some(v) => Ok(vec![token_id_value(field, &v)?]),
    }
}

fn config_err(file: &'static str, e: serde_json::Error) -> TextError {
    TextError::Config {
        file,
        message: e.to_string(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn read(file: &'static str, path: &std::path::Path) -> Result<Vec<u8>, TextError> {
    std::fs::read(path).map_err(|e| TextError::Config {
        file,
        message: format!("{}: {e}", path.display()),
    })
}
