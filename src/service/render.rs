//! A completion's answers written out: as one body or as server-sent events, in the
//! contract's envelope or in OpenAI's objects.

use crate::contract::openai::{ChatCompletion, ChatCompletionChunk, OpenAiUsage};
use crate::contract::{
    Answer, CompletionResult, Envelope, SSE_DONE, StreamResult, Usage, sse_success,
};

/// The shape a completion is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `completion_messages`: the contract's envelope.
    Seed,
    /// `/v1/chat/completions`: OpenAI's objects. `include_usage` asks a stream for a last
    /// chunk with the usage.
    OpenAi { include_usage: bool },
}

/// What every body and event of one completion carries.
pub struct Rendering {
    pub id: String,
    pub model: String,
    pub created: u64,
    pub prompt_tokens: u32,
    pub n: usize,
    pub dialect: Dialect,
}

impl Rendering {
    /// The whole answer, not streamed; `cached` of the prompt's tokens came from the cache.
    pub fn body(&self, answers: &[Answer], cached: u32) -> String {
        let (id, model) = (self.id.clone(), self.model.clone());
        match self.dialect {
            Dialect::Seed => {
                let mut result =
                    CompletionResult::new(id, model, self.created, self.prompt_tokens, answers);
                result.usage.cached_tokens = cached;
                Envelope::success(result).to_json()
            }
            Dialect::OpenAi { .. } => {
                let mut completion =
                    ChatCompletion::new(id, model, self.created, self.prompt_tokens, answers);
                completion.usage = completion.usage.cached(cached);
                completion.to_json()
            }
        }
    }

    /// The events for new `text` of answer `index` (of its thinking when `reasoning`).
    /// `opened` is whether that answer's first event went out: OpenAI's stream opens each
    /// answer with a role chunk.
    pub fn delta(&self, index: usize, text: &str, reasoning: bool, opened: &mut bool) -> String {
        match self.dialect {
            Dialect::Seed => {
                let (delta, reasoning_delta) = match reasoning {
                    false => (text.to_string(), None),
                    true => (String::new(), Some(text.to_string())),
                };
                sse_success(StreamResult {
                    id: self.id.clone(),
                    model: self.model.clone(),
                    delta,
                    reasoning_delta,
                    created_at: self.created,
                    index: (self.n > 1).then_some(index as u32),
                    usage: None,
                })
            }
            Dialect::OpenAi { .. } => {
                let (id, model, created, index) =
                    (&self.id, &self.model, self.created, index as u32);
                let mut out = String::new();
                if !std::mem::replace(opened, true) {
                    out += &ChatCompletionChunk::role(id, model, created, index).to_sse();
                }
                out += &ChatCompletionChunk::content(id, model, created, index, (text, reasoning))
                    .to_sse();
                out
            }
        }
    }

    /// The events that end the stream: the usage and finish reasons, then `[DONE]`.
    pub fn last(&self, answers: &[Answer], cached: u32) -> String {
        let completion_tokens: u32 = answers.iter().map(Answer::completion_tokens).sum();
        let (id, model, created) = (&self.id, &self.model, self.created);
        match self.dialect {
            Dialect::Seed => {
                let usage = Usage {
                    prompt_tokens: self.prompt_tokens,
                    completion_tokens,
                    total_tokens: self.prompt_tokens + completion_tokens,
                    cached_tokens: cached,
                    finish_reason: answers[0].finish_reason,
                };
                let last = StreamResult {
                    id: id.clone(),
                    model: model.clone(),
                    delta: String::new(),
                    reasoning_delta: None,
                    created_at: created,
                    index: (self.n > 1).then_some(0),
                    usage: Some(usage),
                };
                sse_success(last) + SSE_DONE
            }
            Dialect::OpenAi { include_usage } => {
                let mut out = String::new();
                for (i, answer) in answers.iter().enumerate() {
                    out += &ChatCompletionChunk::finish(
                        id,
                        model,
                        created,
                        i as u32,
                        answer.finish_reason,
                    )
                    .to_sse();
                }
                if include_usage {
                    let usage =
                        OpenAiUsage::new(self.prompt_tokens, completion_tokens).cached(cached);
                    out += &ChatCompletionChunk::usage(id, model, created, usage).to_sse();
                }
                out + SSE_DONE
            }
        }
    }
}
