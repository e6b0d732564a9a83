//! The completion_messages contract (docs/CONTRACT.md) as pure functions: request
//! rules, the error table and the response shapes, with no I/O, model or async, so the
//! native server, the edge worker and the browser package call the same code and answer
//! the same way.
//!
//! - [`json`]: the lenient JSON reader (trailing commas; line and column in errors).
//! - [`request`]: body fields into a [`CompletionRequest`].
//! - [`error`]: [`ApiError`] and the one [`ERROR_TABLE`].
//! - [`response`]: the envelope, completions, stream events, models, health.
//! - [`openai`]: OpenAI's chat-completions shapes over the same request.
//! - [`http`]: routing, keys, Content-Type, body size, and [`admit`] (all checks in order).

pub mod error;
pub mod http;
pub mod json;
pub mod openai;
pub mod request;
pub mod response;

#[cfg(test)]
mod tests;

pub use error::{ApiError, ERROR_TABLE, ErrorKind, ErrorRow};
pub use http::{
    Admitted, DEFAULT_BODY_LIMIT, Endpoint, Incoming, Policy, ROUTES, Received, admit, admit_head,
    check_auth, check_body_size, check_content_type, error_body, route,
};
pub use json::parse_object;
pub use openai::{ChatCompletion, ChatCompletionChunk, OpenAiError, OpenAiRequest, OpenAiUsage};
pub use request::{CompletionRequest, MAX_N, MAX_STOP, generation_budget, parse_completion_body};
pub use response::{
    Answer, Choice, CompletionResult, Envelope, FinishReason, HealthResult, ModelInfo,
    ModelsResult, SSE_DONE, StreamResult, Usage, completion_id, sse_error, sse_event, sse_success,
};

/// Whether a requested model names a served id: the full id or its last path segment,
/// ASCII case-insensitive ("qwen2.5-0.5b-instruct" matches "Qwen/Qwen2.5-0.5B-Instruct").
pub fn model_matches(requested: &str, served_id: &str) -> bool {
    let last = served_id.rsplit('/').next().unwrap_or(served_id);
    requested.eq_ignore_ascii_case(served_id) || requested.eq_ignore_ascii_case(last)
}

/// The index of the served model a request names (a full-id match wins over a
/// last-segment one, then the first in order), or 404/40400 listing the served ids.
pub fn resolve_model<S: AsRef<str>>(requested: &str, served: &[S]) -> Result<usize, ApiError> {
    served
        .iter()
        .position(|s| requested.eq_ignore_ascii_case(s.as_ref()))
        .or_else(|| {
            served
                .iter()
                .position(|s| model_matches(requested, s.as_ref()))
        })
        .ok_or_else(|| ApiError::unknown_model(requested, served))
}
