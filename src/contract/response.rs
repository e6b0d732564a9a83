//! Response bodies of the native API: the envelope, completions, stream events, the
//! models list and health. Field order follows the user's document (serde writes struct
//! fields in declaration order, so the JSON is stable).

use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// `{"code","message","result"}` around every native answer, errors included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub code: u32,
    pub message: String,
    /// `null` on errors.
    pub result: Option<T>,
}

impl<T: Serialize> Envelope<T> {
    /// Code 0, message "success".
    pub fn success(result: T) -> Self {
        Envelope {
            code: 0,
            message: "success".to_string(),
            result: Some(result),
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Envelope<()> {
    /// `{"code":…,"message":…,"result":null}`.
    pub fn error(e: &ApiError) -> Self {
        Envelope {
            code: e.code,
            message: e.message.clone(),
            result: None,
        }
    }
}

impl ApiError {
    /// The native error body.
    pub fn to_json(&self) -> String {
        Envelope::error(self).to_json()
    }
}

/// Why an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// An end-of-turn token or a stop string.
    Stop,
    /// max_tokens or the context length reached.
    Length,
    /// The browser package's `abort()`.
    Abort,
}

pub(crate) fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Abort => "abort",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the chat-templated prompt.
    pub prompt_tokens: u32,
    /// Tokens generated, all n answers together.
    pub completion_tokens: u32,
    pub total_tokens: u32,
    /// Extension: prompt tokens found in the server's prompt cache instead of prefilled;
    /// present only when some were.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_tokens: u32,
    /// The first answer's (the one in `answer`).
    pub finish_reason: FinishReason,
}

/// One of n answers, as the engine hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    /// A reasoning model's thinking, split from `text` (which is then the answer alone).
    pub reasoning: Option<String>,
    /// Every sampled token, the end-of-turn token included.
    pub tokens: Vec<u32>,
    pub finish_reason: FinishReason,
}

impl Answer {
    pub fn completion_tokens(&self) -> u32 {
        self.tokens.len() as u32
    }
}

/// `result.choices[i]` when n > 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    pub answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    pub finish_reason: FinishReason,
    pub completion_tokens: u32,
}

/// `result` of a non-streamed completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionResult {
    pub id: String,
    /// The served id, not the requested spelling.
    pub model: String,
    /// The first answer.
    pub answer: String,
    /// The first answer's thinking, for a reasoning model that produced one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    pub usage: Usage,
    /// Unix seconds.
    pub created_at: u64,
    /// All answers, only when n > 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Choice>>,
}

impl CompletionResult {
    /// Builds the result from the n answers (at least one): `answer` and
    /// `usage.finish_reason` are the first answer's, `completion_tokens` the sum.
    pub fn new(
        id: impl Into<String>,
        model: impl Into<String>,
        created_at: u64,
        prompt_tokens: u32,
        answers: &[Answer],
    ) -> Self {
        let completion_tokens: u32 = answers.iter().map(Answer::completion_tokens).sum();
        let first = answers.first();
        let choices = (answers.len() > 1).then(|| {
            answers
                .iter()
                .enumerate()
                .map(|(i, a)| Choice {
                    index: i as u32,
                    answer: a.text.clone(),
                    reasoning: a.reasoning.clone(),
                    finish_reason: a.finish_reason,
                    completion_tokens: a.completion_tokens(),
                })
                .collect()
        });
        CompletionResult {
            id: id.into(),
            model: model.into(),
            answer: first.map(|a| a.text.clone()).unwrap_or_default(),
            reasoning: first.and_then(|a| a.reasoning.clone()),
            usage: Usage {
                prompt_tokens,
                completion_tokens,
                total_tokens: prompt_tokens + completion_tokens,
                cached_tokens: 0,
                finish_reason: first.map_or(FinishReason::Stop, |a| a.finish_reason),
            },
            created_at,
            choices,
        }
    }
}

/// `result` of one stream event: new text in `delta`; `index` only when n > 1; `usage`
/// only on the last event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamResult {
    pub id: String,
    pub model: String,
    /// Whole UTF-8 characters only.
    pub delta: String,
    /// New thinking text of a reasoning model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_delta: Option<String>,
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One server-sent event carrying `json`: `data: {json}\n\n`.
pub fn sse_event(json: &str) -> String {
    format!("data: {json}\n\n")
}

/// The stream's last event.
pub const SSE_DONE: &str = "data: [DONE]\n\n";

/// A stream event for a success envelope around `result`.
pub fn sse_success<T: Serialize>(result: T) -> String {
    sse_event(&Envelope::success(result).to_json())
}

/// An error found after the first event was sent (the status is already 200): the
/// error envelope as an event, then the terminator.
pub fn sse_error(e: &ApiError) -> String {
    format!("{}{SSE_DONE}", sse_event(&e.to_json()))
}

/// `result` of `GET /api/v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelsResult {
    pub models: Vec<ModelInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub context_length: u32,
    /// Always "hearth".
    pub owned_by: String,
}

impl ModelInfo {
    pub fn new(id: impl Into<String>, context_length: u32) -> Self {
        ModelInfo {
            id: id.into(),
            context_length,
            owned_by: "hearth".to_string(),
        }
    }
}

/// `result` of `GET /healthz`: `{"status":"ok"}` while the model is loaded and serving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthResult {
    pub status: String,
}

impl HealthResult {
    pub fn ok() -> Self {
        HealthResult {
            status: "ok".to_string(),
        }
    }
}

/// A completion id: `cmpl-` and 16 hex digits of `bits` (the runtime supplies the
/// randomness; this module does no I/O).
pub fn completion_id(bits: u64) -> String {
    format!("cmpl-{bits:016x}")
}
