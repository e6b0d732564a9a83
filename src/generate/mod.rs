//! Turning a prompt into answers: prefill once, then per answer a decode loop of sample,
//! detokenize, match stop strings, until an end-of-turn token, a stop string or max_tokens.

pub mod rng;
pub mod sampler;
pub mod stop;

pub use crate::contract::{Answer, FinishReason};
use crate::model::{KvCache, Logits, Network};
use crate::text::{ChatFormat, Detokenizer, TextError};
pub use sampler::{Sampler, SamplingParams};
use stop::StopMatcher;

/// What to generate for an already tokenized prompt.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    pub prompt_ids: Vec<u32>,
    /// At most this many tokens per answer; the caller caps it to the context length.
    pub max_tokens: usize,
    /// Independent answers from one prefill.
    pub n: usize,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("reading from the device failed: {0}")]
    Device(String),
    #[error(transparent)]
    Text(#[from] TextError),
}

/// Generates `request.n` answers. `on_delta(index, text)` receives each answer's text as it
/// grows, in whole characters and never a part of a stop string; returning `false` aborts.
pub async fn generate(
    model: &Network,
    format: &ChatFormat,
    request: &GenerationRequest,
    on_delta: impl FnMut(usize, &str) -> bool,
) -> Result<Vec<Answer>, GenerateError> {
    generate_paced(model, format, request, on_delta, || std::future::ready(())).await
}

/// [`generate`], awaiting `pause()` after each token. On flex nothing else ever waits, so a
/// single-threaded runtime (a worker isolate) only sends the deltas out while it pauses.
pub async fn generate_paced<P: Future<Output = ()>>(
    model: &Network,
    format: &ChatFormat,
    request: &GenerationRequest,
    mut on_delta: impl FnMut(usize, &str) -> bool,
    mut pause: impl FnMut() -> P,
) -> Result<Vec<Answer>, GenerateError> {
    let mut cache = model.new_cache(request.prompt_ids.len() + request.max_tokens);
    let mut logits = model.forward(&request.prompt_ids, &mut cache);
    if request.n > 1 {
        logits = logits.detached().await.map_err(GenerateError::Device)?;
    }
    let mut answers = Vec::with_capacity(request.n);
    for index in 0..request.n {
        // Each answer decodes from its own copy of the prefilled cache.
        let answer = decode(
            model,
            format,
            request,
            index,
            (cache.clone(), logits.clone()),
            &mut |text| on_delta(index, text),
            &mut pause,
        )
        .await?;
        let aborted = answer.finish_reason == FinishReason::Abort;
        answers.push(answer);
        if aborted {
            break;
        }
    }
    Ok(answers)
}

/// One answer from a prefilled cache and the prompt's last logits.
async fn decode<P: Future<Output = ()>>(
    model: &Network,
    format: &ChatFormat,
    request: &GenerationRequest,
    index: usize,
    (mut cache, mut logits): (KvCache, Logits),
    on_delta: &mut dyn FnMut(&str) -> bool,
    pause: &mut impl FnMut() -> P,
) -> Result<Answer, GenerateError> {
    let mut sampler = Sampler::new(request.sampling.clone(), index as u64);
    let mut detokenizer = Detokenizer::new(format.tokenizer());
    let mut stop = StopMatcher::new(&request.stop);
    let mut text = String::new();
    let mut tokens = Vec::new();
    let mut emit = |piece: &str, text: &mut String| {
        if piece.is_empty() {
            return true;
        }
        text.push_str(piece);
        on_delta(piece)
    };
    let finish_reason = loop {
        let id = next_token(logits, &mut sampler, &request.sampling).await?;
        sampler.accept(id);
        tokens.push(id);
        if format.end_of_turn_ids().contains(&id) {
            break match finish(&mut detokenizer, &mut stop, &mut text, &mut emit)? {
                None => FinishReason::Abort,
                Some(_) => FinishReason::Stop,
            };
        }
        let pushed = stop.push(&detokenizer.push(id)?);
        if !emit(&pushed.emit, &mut text) {
            break FinishReason::Abort;
        }
        if pushed.stopped {
            break FinishReason::Stop;
        }
        if tokens.len() >= request.max_tokens {
            break match finish(&mut detokenizer, &mut stop, &mut text, &mut emit)? {
                None => FinishReason::Abort,
                Some(true) => FinishReason::Stop,
                Some(false) => FinishReason::Length,
            };
        }
        pause().await;
        logits = model.forward(&[id], &mut cache);
    };
    Ok(Answer {
        text,
        reasoning: None,
        tokens,
        finish_reason,
    })
}

/// Flushes what the detokenizer and the stop matcher hold back at the end of an answer:
/// `Some(true)` when the flushed text completed a stop string, `None` when the caller aborted.
fn finish(
    detokenizer: &mut Detokenizer,
    stop: &mut StopMatcher,
    text: &mut String,
    emit: &mut impl FnMut(&str, &mut String) -> bool,
) -> Result<Option<bool>, GenerateError> {
    let pushed = stop.push(&detokenizer.finish()?);
    let tail = match pushed.stopped {
        true => String::new(),
        false => stop.finish(),
    };
    let delivered = emit(&pushed.emit, text) && emit(&tail, text);
    Ok(delivered.then_some(pushed.stopped))
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
        return logits.argmax().await.map_err(GenerateError::Device);
    }
    let mut row = logits.into_vec().await.map_err(GenerateError::Device)?;
    Ok(sampler.sample(&mut row))
}
