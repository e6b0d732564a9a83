//! OpenAI's chat-completions shape (`POST /v1/chat/completions`) over the same engine,
//! so existing OpenAI clients work unchanged. Requests land in the same
//! [`CompletionRequest`] with the same rules; only the wire shapes differ.
//!
//! Differences from completion_messages: `max_completion_tokens` is an alias of
//! `max_tokens` (both given must agree), the `developer` role means `system`,
//! `stream_options.include_usage` asks for a final usage chunk, and errors use OpenAI's
//! `{"error":{…}}` shape with the same HTTP statuses. Tools, logprobs, response_format
//! and other unknown fields are ignored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{ApiError, ErrorKind};
use super::request::{CompletionRequest, Dialect, expected, get, parse_fields};
use super::response::{Answer, FinishReason};

/// A validated OpenAI request.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiRequest {
    pub request: CompletionRequest,
    /// `stream_options.include_usage`: send a last chunk with `usage` and no choices.
    pub include_usage: bool,
}

/// Validates an OpenAI chat-completions body (already parsed).
pub fn parse_request(map: &Map<String, Value>) -> Result<OpenAiRequest, ApiError> {
    let request = parse_fields(map, Dialect::OpenAi)?;
    let include_usage = match get(map, "stream_options") {
        None => false,
        Some(Value::Object(opts)) => match get(opts, "include_usage") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(expected("stream_options.include_usage", "true or false", v)),
        },
        Some(v) => return Err(expected("stream_options", "an object", v)),
    };
    Ok(OpenAiRequest {
        request,
        include_usage,
    })
}

/// Reads and validates a raw OpenAI body.
pub fn parse_body(body: &[u8]) -> Result<OpenAiRequest, ApiError> {
    parse_request(&super::json::parse_object(body)?)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    /// Present when some prompt tokens came from the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    pub cached_tokens: u32,
}

impl OpenAiUsage {
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        OpenAiUsage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: None,
        }
    }

    /// With `cached_tokens` of the prompt reported as found in the prompt cache.
    pub fn cached(self, cached_tokens: u32) -> Self {
        let prompt_tokens_details =
            (cached_tokens > 0).then_some(PromptTokensDetails { cached_tokens });
        Self {
            prompt_tokens_details,
            ..self
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Always "assistant".
    pub role: String,
    pub content: String,
    /// A reasoning model's thinking, apart from `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    pub index: u32,
    pub message: AssistantMessage,
    pub finish_reason: FinishReason,
}

/// `{"id","object":"chat.completion","created","model","choices","usage"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    pub id: String,
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChatChoice>,
    pub usage: OpenAiUsage,
}

impl ChatCompletion {
    pub fn new(
        id: impl Into<String>,
        model: impl Into<String>,
        created: u64,
        prompt_tokens: u32,
        answers: &[Answer],
    ) -> Self {
        let completion_tokens = answers.iter().map(Answer::completion_tokens).sum();
        ChatCompletion {
            id: id.into(),
            object: "chat.completion".to_string(),
            created,
            model: model.into(),
            choices: answers
                .iter()
                .enumerate()
                .map(|(i, a)| ChatChoice {
                    index: i as u32,
                    message: AssistantMessage {
                        role: "assistant".to_string(),
                        content: a.text.clone(),
                        reasoning_content: a.reasoning.clone(),
                    },
                    finish_reason: a.finish_reason,
                })
                .collect(),
            usage: OpenAiUsage::new(prompt_tokens, completion_tokens),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `delta` of a chunk: `role` on a choice's first chunk, `content` when there is text;
/// `{}` on the chunk that carries `finish_reason`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    /// `null` until the choice's last chunk.
    pub finish_reason: Option<FinishReason>,
}

/// `{"id","object":"chat.completion.chunk","created","model","choices"}`, plus `usage`
/// on the final chunk when `stream_options.include_usage` was set (then `choices` is
/// empty, as OpenAI does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    pub id: String,
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<OpenAiUsage>,
}

impl ChatCompletionChunk {
    fn with(id: &str, model: &str, created: u64, choices: Vec<ChunkChoice>) -> Self {
        ChatCompletionChunk {
            id: id.to_string(),
            object: "chat.completion.chunk".to_string(),
            created,
            model: model.to_string(),
            choices,
            usage: None,
        }
    }

    fn delta(id: &str, model: &str, created: u64, index: u32, delta: Delta) -> Self {
        let choice = ChunkChoice {
            index,
            delta,
            finish_reason: None,
        };
        Self::with(id, model, created, vec![choice])
    }

    /// A choice's first chunk: `{"role":"assistant","content":""}`.
    pub fn role(id: &str, model: &str, created: u64, index: u32) -> Self {
        let delta = Delta {
            role: Some("assistant".to_string()),
            content: Some(String::new()),
            reasoning_content: None,
        };
        Self::delta(id, model, created, index, delta)
    }

    /// New text of the answer, or of its thinking when `reasoning`.
    pub fn content(
        id: &str,
        model: &str,
        created: u64,
        index: u32,
        (text, reasoning): (&str, bool),
    ) -> Self {
        let text = Some(text.to_string());
        let delta = match reasoning {
            false => Delta {
                content: text,
                ..Delta::default()
            },
            true => Delta {
                reasoning_content: text,
                ..Delta::default()
            },
        };
        Self::delta(id, model, created, index, delta)
    }

    /// A choice's last chunk: empty delta and its finish_reason.
    pub fn finish(id: &str, model: &str, created: u64, index: u32, reason: FinishReason) -> Self {
        let choice = ChunkChoice {
            index,
            delta: Delta::default(),
            finish_reason: Some(reason),
        };
        Self::with(id, model, created, vec![choice])
    }

    /// The usage chunk (only with `include_usage`): no choices.
    pub fn usage(id: &str, model: &str, created: u64, usage: OpenAiUsage) -> Self {
        let mut c = Self::with(id, model, created, Vec::new());
        c.usage = Some(usage);
        c
    }

    /// `data: {json}\n\n`.
    pub fn to_sse(&self) -> String {
        super::response::sse_event(&serde_json::to_string(self).unwrap_or_default())
    }
}

/// `{"error":{"message","type","param","code"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiError {
    pub error: OpenAiErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiErrorBody {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The offending field, where one is known.
    pub param: Option<String>,
    pub code: Option<String>,
}

impl From<&ApiError> for OpenAiError {
    /// Same message; type and code from the error table; the HTTP status stays the
    /// ApiError's.
    fn from(e: &ApiError) -> Self {
        let kind = e.kind();
        let row = kind.map(ErrorKind::row);
        let param = match kind {
            // invalid_field messages are "{field}: {detail}".
            Some(ErrorKind::InvalidField) => e.message.split_once(": ").map(|(f, _)| f.to_string()),
            Some(ErrorKind::UnknownModel) => Some("model".to_string()),
            Some(ErrorKind::ContextExceeded) => Some("messages".to_string()),
            _ => None,
        };
        OpenAiError {
            error: OpenAiErrorBody {
                message: e.message.clone(),
                kind: row.map_or("server_error", |r| r.openai_type).to_string(),
                param,
                code: row.map(|r| r.openai_code.to_string()),
            },
        }
    }
}

impl ApiError {
    /// The OpenAI error body.
    pub fn to_openai_json(&self) -> String {
        serde_json::to_string(&OpenAiError::from(self)).unwrap_or_default()
    }
}
