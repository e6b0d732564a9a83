//! A streamed completion: the job's events as they come, turned into server-sent events.

use super::TokenCounts;
use super::render::Rendering;
use crate::contract::{Answer, ApiError, sse_error};
use crate::runner::{Finished, Job, JobEvent};
use crate::text::{ReasoningSplitter, Split};

pub struct EventStream {
    rendering: Rendering,
    job: Job,
    /// Per answer, whether its first event went out.
    opened: Vec<bool>,
    /// Per answer, for a reasoning model.
    splitters: Option<Vec<ReasoningSplitter>>,
    finished: bool,
    /// (Completion, cached prompt) tokens once the answers are in.
    completion_tokens: Option<(u32, u32)>,
}

impl EventStream {
    /// `reasoning`: a reasoning model's answers are split (`Some(true)`: the prompt opened
    /// the block).
    pub(super) fn new(rendering: Rendering, reasoning: Option<bool>, job: Job) -> Self {
        let n = rendering.n;
        Self {
            rendering,
            job,
            opened: vec![false; n],
            splitters: reasoning.map(|inside| vec![ReasoningSplitter::new(inside); n]),
            finished: false,
            completion_tokens: None,
        }
    }

    /// The token counts, once the stream has delivered its last event.
    pub fn tokens(&self) -> Option<TokenCounts> {
        self.completion_tokens
            .map(|(completion, cached)| TokenCounts {
                prompt: self.rendering.prompt_tokens,
                cached,
                completion,
            })
    }

    /// The next chunk of the body, `None` after `[DONE]`.
    pub async fn next(&mut self) -> Option<String> {
        if self.finished {
            return None;
        }
        let chunk = match self.job.events.recv().await.ok() {
            Some(JobEvent::Delta { index, text }) => match &mut self.splitters {
                None => self.delta(index, &text, false),
                Some(splitters) => {
                    let split = splitters[index].push(&text);
                    self.split_delta(index, split)
                }
            },
            Some(JobEvent::Done(Ok(Finished {
                answers,
                cached_tokens,
            }))) => {
                self.finished = true;
                let completion = answers.iter().map(Answer::completion_tokens).sum();
                self.completion_tokens = Some((completion, cached_tokens));
                let held: Vec<Split> = match &mut self.splitters {
                    None => Vec::new(),
                    Some(splitters) => splitters.iter_mut().map(|s| s.finish()).collect(),
                };
                let mut out = String::new();
                for (index, split) in held.into_iter().enumerate() {
                    out += &self.split_delta(index, split);
                }
                out + &self.rendering.last(&answers, cached_tokens)
            }
            Some(JobEvent::Done(Err(e))) => {
                self.finished = true;
                sse_error(&ApiError::internal(e))
            }
            None => {
                self.finished = true;
                sse_error(&ApiError::internal("the engine stopped before answering"))
            }
        };
        Some(chunk)
    }

    /// The events for a reasoning model's new text: its thinking, then its answer.
    fn split_delta(&mut self, index: usize, split: Split) -> String {
        let mut out = String::new();
        for (text, reasoning) in [(split.reasoning, true), (split.answer, false)] {
            if !text.is_empty() {
                out += &self.delta(index, &text, reasoning);
            }
        }
        out
    }

    fn delta(&mut self, index: usize, text: &str, reasoning: bool) -> String {
        self.rendering
            .delta(index, text, reasoning, &mut self.opened[index])
    }
}
