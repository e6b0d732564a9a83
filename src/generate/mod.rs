//! Turning a prompt into answers: prefill once, then per answer a decode loop of sample,
//! detokenize, match stop strings, until an end-of-turn token, a stop string or max_tokens.

mod answer;
mod cancel;
pub mod rng;
pub mod sampler;
pub mod stop;

pub use crate::contract::{Answer, FinishReason};
use crate::model::{DeviceError, KvCache, Logits, Network};
use crate::text::{ChatFormat, TextError};
pub use answer::{Decoding, Next};
pub use cancel::Cancel;
pub use sampler::{Sampler, SamplingParams};

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
    /// Ends the answers early, with what they have.
    pub cancel: Cancel,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Device(#[from] DeviceError),
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
        logits = logits.detached().await?;
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
    let mut decoding = Decoding::new(format, request, index);
    loop {
        match decoding.step(logits, on_delta).await? {
            Next::Feed(id) => {
                pause().await;
                logits = model.forward(&[id], &mut cache);
            }
            Next::Finished(answer) => return Ok(answer),
        }
    }
}
