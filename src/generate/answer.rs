//! One answer as it is decoded, a token at a time: sample from the logits, detokenize, hold
//! back what might start a stop string, and end at an end-of-turn token, a stop string or
//! `max_tokens`. Whoever runs the network (one sequence, or a batch of them) feeds it.

use super::sampler::{Sampler, SamplingParams};
use super::stop::StopMatcher;
use super::{Answer, FinishReason, GenerateError, GenerationRequest};
use crate::model::Logits;
use crate::text::{ChatFormat, Detokenizer};

/// What the answer needs after a token.
pub enum Next {
    /// Run the network on this token, and hand its logits to [`Decoding::step`].
    Feed(u32),
    Finished(Answer),
}

pub struct Decoding {
    params: SamplingParams,
    sampler: Sampler,
    detokenizer: Detokenizer,
    stop: StopMatcher,
    end_of_turn: Vec<u32>,
    max_tokens: usize,
    text: String,
    tokens: Vec<u32>,
}

impl Decoding {
    /// Answer `index` of `request` (its sampler's stream is the seed's `index`-th).
    pub fn new(format: &ChatFormat, request: &GenerationRequest, index: usize) -> Self {
        Self {
            params: request.sampling.clone(),
            sampler: Sampler::new(request.sampling.clone(), index as u64),
            detokenizer: Detokenizer::new(format.tokenizer()),
            stop: StopMatcher::new(&request.stop),
            end_of_turn: format.end_of_turn_ids().to_vec(),
            max_tokens: request.max_tokens,
            text: String::new(),
            tokens: Vec::new(),
        }
    }

    /// Picks the next token from `logits` and takes it. `on_delta` receives the text that
    /// may now be shown; its `false` (the client went away) ends the answer with `abort`.
    pub async fn step(
        &mut self,
        logits: Logits,
        on_delta: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Next, GenerateError> {
        let id = next_token(logits, &mut self.sampler, &self.params).await?;
        self.sampler.accept(id);
        self.tokens.push(id);
        let reason = if self.end_of_turn.contains(&id) {
            match self.finish(on_delta)? {
                None => FinishReason::Abort,
                Some(_) => FinishReason::Stop,
            }
        } else {
            let pushed = self.stop.push(&self.detokenizer.push(id)?);
            if !self.emit(&pushed.emit, on_delta) {
                FinishReason::Abort
            } else if pushed.stopped {
                FinishReason::Stop
            } else if self.tokens.len() >= self.max_tokens {
                match self.finish(on_delta)? {
                    None => FinishReason::Abort,
                    Some(true) => FinishReason::Stop,
                    Some(false) => FinishReason::Length,
                }
            } else {
                return Ok(Next::Feed(id));
            }
        };
        Ok(Next::Finished(self.answer(reason)))
    }

    /// Ends the answer where it is (the client went away, or the runner stops).
    pub fn abort(mut self) -> Answer {
        self.answer(FinishReason::Abort)
    }

    fn answer(&mut self, finish_reason: FinishReason) -> Answer {
        Answer {
            text: std::mem::take(&mut self.text),
            reasoning: None,
            tokens: std::mem::take(&mut self.tokens),
            finish_reason,
        }
    }

    fn emit(&mut self, piece: &str, on_delta: &mut dyn FnMut(&str) -> bool) -> bool {
        if piece.is_empty() {
            return true;
        }
        self.text.push_str(piece);
        on_delta(piece)
    }

    /// Flushes what the detokenizer and the stop matcher hold back at the end of an answer:
    /// `Some(true)` when the flushed text completed a stop string, `None` when the caller
    /// aborted.
    fn finish(
        &mut self,
        on_delta: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Option<bool>, GenerateError> {
        let pushed = self.stop.push(&self.detokenizer.finish()?);
        let tail = match pushed.stopped {
            true => String::new(),
            false => self.stop.finish(),
        };
        let delivered = self.emit(&pushed.emit, on_delta) && self.emit(&tail, on_delta);
        Ok(delivered.then_some(pushed.stopped))
    }
}

/// Picks the next token, reading back only what the choice needs: the argmax id for plain
/// greedy decoding, the whole logits row when sampling or penalties are involved.
async fn next_token(
    logits: Logits,
    sampler: &mut Sampler,
    params: &SamplingParams,
) -> Result<u32, GenerateError> {
    let plain_greedy = params.temperature == 0.0
        && params.presence_penalty == 0.0
        && params.frequency_penalty == 0.0;
    if plain_greedy {
        return Ok(logits.argmax().await?);
    }
    let mut row = logits.into_vec().await?;
    Ok(sampler.sample(&mut row))
}
