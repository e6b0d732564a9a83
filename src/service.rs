//! The transport-free handler every runtime calls: a request (method, path, the two headers
//! that matter, body) in; a status, headers and a body or an event stream out. The rules
//! live in `contract`; this adds the models, prompts and generation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::contract::openai::{ChatCompletion, ChatCompletionChunk, OpenAiUsage};
use crate::contract::{
    Admitted, Answer, ApiError, CompletionRequest, CompletionResult, Envelope, HealthResult,
    Incoming, ModelInfo, ModelsResult, Policy, SSE_DONE, StreamResult, Usage, admit, completion_id,
    error_body, generation_budget, sse_error, sse_success,
};
use crate::generate::{GenerationRequest, SamplingParams};
use crate::text::{ChatFormat, ReasoningSplitter, Split};

/// What a runner reports while it generates.
#[derive(Debug)]
pub enum JobEvent {
    Delta { index: usize, text: String },
    Done(Result<Vec<Answer>, String>),
}

/// A submitted generation. Dropping it tells the runner to stop (its sends fail) and free
/// the slot: that is how a closed connection cancels.
pub struct Job {
    pub events: async_channel::Receiver<JobEvent>,
}

impl Job {
    /// A job and the sender its runner reports through.
    pub fn channel() -> (async_channel::Sender<JobEvent>, Self) {
        let (tx, events) = async_channel::unbounded();
        (tx, Self { events })
    }
}

/// The `on_delta` a runner gives `generate`: each piece of text becomes a [`JobEvent::Delta`],
/// and once the job is dropped (the client went away) it answers `false`, which aborts.
pub fn report_deltas(
    events: &async_channel::Sender<JobEvent>,
) -> impl FnMut(usize, &str) -> bool + '_ {
    move |index, text| {
        let delta = JobEvent::Delta {
            index,
            text: text.to_string(),
        };
        events.try_send(delta).is_ok()
    }
}

/// Where generation runs: natively a queue in front of an engine thread, in wasm the
/// engine itself.
pub trait Runner: Send + Sync {
    fn format(&self) -> &ChatFormat;
    fn context_length(&self) -> usize;
    /// Starts a job, or refuses (503) when at capacity.
    fn submit(&self, request: GenerationRequest) -> Result<Job, ApiError>;
}

pub struct ServedModel {
    /// The full id, e.g. `Qwen/Qwen2.5-0.5B-Instruct`.
    pub id: String,
    pub runner: Arc<dyn Runner>,
}

/// The runtime's configuration of the service.
pub struct Config {
    pub models: Vec<ServedModel>,
    /// Empty: no auth.
    pub keys: Vec<String>,
    pub body_limit: usize,
    /// Unix seconds; the runtime's clock (wasm has no `SystemTime`).
    pub clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    /// Entropy for request ids and for requests without a seed.
    pub entropy: u64,
}

pub struct Service {
    config: Config,
    ids: Vec<String>,
    counter: AtomicU64,
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
    /// A finished completion's token counts, for the request log (streams report theirs
    /// through [`EventStream::tokens`] when they end).
    pub tokens: Option<TokenCounts>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenCounts {
    pub prompt: u32,
    pub completion: u32,
}

pub enum Body {
    Full(String),
    Stream(EventStream),
}

impl Response {
    fn json(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: Body::Full(body),
            tokens: None,
        }
    }

    fn error(path: &str, e: &ApiError) -> Self {
        let mut response = Self::json(e.status, error_body(path, e));
        response.headers.extend(e.headers());
        response
    }
}

/// What is known of an admitted completion before it runs.
struct Prepared {
    id: String,
    model: String,
    created: u64,
    prompt_tokens: u32,
    n: usize,
    openai: Option<bool>,
    stream: bool,
    /// A reasoning model's answers are split (`Some(true)`: the prompt opened the block).
    reasoning: Option<bool>,
}

impl Service {
    pub fn new(config: Config) -> Self {
        let ids = config.models.iter().map(|m| m.id.clone()).collect();
        Self {
            config,
            ids,
            counter: AtomicU64::new(0),
        }
    }

    pub fn model_ids(&self) -> &[String] {
        &self.ids
    }

    pub async fn handle(&self, req: &Incoming<'_>) -> Response {
        let policy = Policy {
            keys: &self.config.keys,
            body_limit: self.config.body_limit,
            served: &self.ids,
        };
        let admitted = match admit(req, &policy) {
            Ok(admitted) => admitted,
            Err(e) => return Response::error(req.path, &e),
        };
        let result = match admitted {
            Admitted::Health => Ok(Response::json(
                200,
                Envelope::success(HealthResult::ok()).to_json(),
            )),
            Admitted::Models => Ok(self.models()),
            Admitted::Completion { request, model } => self.complete(request, model, None).await,
            Admitted::ChatCompletion { request, model } => {
                self.complete(request.request, model, Some(request.include_usage))
                    .await
            }
        };
        result.unwrap_or_else(|e| Response::error(req.path, &e))
    }

    fn models(&self) -> Response {
        let models = self
            .config
            .models
            .iter()
            .map(|m| ModelInfo::new(m.id.clone(), m.runner.context_length() as u32))
            .collect();
        Response::json(200, Envelope::success(ModelsResult { models }).to_json())
    }

    /// `openai`: `None` for completion_messages, `Some(include_usage)` for OpenAI's shape.
    async fn complete(
        &self,
        request: CompletionRequest,
        model: usize,
        openai: Option<bool>,
    ) -> Result<Response, ApiError> {
        let served = &self.config.models[model];
        let runner = &served.runner;
        let prompt = runner
            .format()
            .prompt(&request.messages, request.enable_thinking)
            .map_err(|e| ApiError::invalid_field("messages", e))?;
        let prompt_ids = prompt.ids;
        let max_tokens = generation_budget(
            prompt_ids.len(),
            request.max_tokens,
            runner.context_length(),
        )?;
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let unique = crate::generate::rng::Rng::derive(self.config.entropy, count).next_u64();
        let prepared = Prepared {
            id: completion_id(unique),
            model: served.id.clone(),
            created: (self.config.clock)(),
            prompt_tokens: prompt_ids.len() as u32,
            n: request.n as usize,
            openai,
            stream: request.stream,
            reasoning: prompt.reasoning,
        };
        let job = runner.submit(GenerationRequest {
            prompt_ids,
            max_tokens,
            n: request.n as usize,
            sampling: SamplingParams {
                temperature: request.temperature,
                top_p: request.top_p,
                presence_penalty: request.presence_penalty,
                frequency_penalty: request.frequency_penalty,
                seed: request.seed.unwrap_or(unique),
            },
            stop: request.stop,
        })?;
        if prepared.stream {
            let content_type = "text/event-stream".to_string();
            return Ok(Response {
                status: 200,
                headers: vec![
                    ("content-type", content_type),
                    ("cache-control", "no-cache".into()),
                ],
                body: Body::Stream(EventStream::new(prepared, job)),
                tokens: None,
            });
        }
        let mut answers = collect(job).await?;
        let p = prepared;
        if let Some(inside) = p.reasoning {
            for answer in &mut answers {
                let split = ReasoningSplitter::split(inside, &answer.text);
                answer.text = split.answer;
                answer.reasoning = (!split.reasoning.is_empty()).then_some(split.reasoning);
            }
        }
        let tokens = TokenCounts {
            prompt: p.prompt_tokens,
            completion: answers.iter().map(Answer::completion_tokens).sum(),
        };
        let body = match p.openai {
            None => Envelope::success(CompletionResult::new(
                p.id,
                p.model,
                p.created,
                p.prompt_tokens,
                &answers,
            ))
            .to_json(),
            Some(_) => {
                ChatCompletion::new(p.id, p.model, p.created, p.prompt_tokens, &answers).to_json()
            }
        };
        Ok(Response {
            tokens: Some(tokens),
            ..Response::json(200, body)
        })
    }
}

async fn collect(job: Job) -> Result<Vec<Answer>, ApiError> {
    while let Ok(event) = job.events.recv().await {
        if let JobEvent::Done(result) = event {
            return result.map_err(ApiError::internal);
        }
    }
    Err(ApiError::internal("the engine stopped before answering"))
}

/// A streamed completion as server-sent events, in the contract's shape or OpenAI's.
pub struct EventStream {
    prepared: Prepared,
    job: Job,
    /// Per answer, whether OpenAI's opening role chunk went out.
    opened: Vec<bool>,
    /// Per answer, for a reasoning model.
    splitters: Option<Vec<ReasoningSplitter>>,
    finished: bool,
    /// Completion tokens once the answers are in.
    completion_tokens: Option<u32>,
}

impl EventStream {
    fn new(prepared: Prepared, job: Job) -> Self {
        let opened = vec![false; prepared.n];
        let splitters = prepared
            .reasoning
            .map(|inside| vec![ReasoningSplitter::new(inside); prepared.n]);
        Self {
            prepared,
            job,
            opened,
            splitters,
            finished: false,
            completion_tokens: None,
        }
    }

    /// The token counts, once the stream has delivered its last event.
    pub fn tokens(&self) -> Option<TokenCounts> {
        self.completion_tokens.map(|completion| TokenCounts {
            prompt: self.prepared.prompt_tokens,
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
            Some(JobEvent::Done(Ok(answers))) => {
                self.finished = true;
                self.completion_tokens = Some(answers.iter().map(Answer::completion_tokens).sum());
                let held: Vec<Split> = match &mut self.splitters {
                    None => Vec::new(),
                    Some(splitters) => splitters.iter_mut().map(|s| s.finish()).collect(),
                };
                let mut out = String::new();
                for (index, split) in held.into_iter().enumerate() {
                    out += &self.split_delta(index, split);
                }
                out + &self.last(&answers)
            }
            Some(JobEvent::Done(Err(message))) => {
                self.finished = true;
                sse_error(&ApiError::internal(message))
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

    /// The event for new `text` of answer `index` (of its thinking when `reasoning`).
    fn delta(&mut self, index: usize, text: &str, reasoning: bool) -> String {
        let p = &self.prepared;
        let (delta, reasoning_delta) = match reasoning {
            false => (text.to_string(), None),
            true => (String::new(), Some(text.to_string())),
        };
        match p.openai {
            None => sse_success(StreamResult {
                id: p.id.clone(),
                model: p.model.clone(),
                delta,
                reasoning_delta,
                created_at: p.created,
                index: (p.n > 1).then_some(index as u32),
                usage: None,
            }),
            Some(_) => {
                let mut out = String::new();
                if !std::mem::replace(&mut self.opened[index], true) {
                    out += &ChatCompletionChunk::role(&p.id, &p.model, p.created, index as u32)
                        .to_sse();
                }
                let at = (&p.id, &p.model, p.created, index as u32);
                out += &ChatCompletionChunk::content(at.0, at.1, at.2, at.3, (text, reasoning))
                    .to_sse();
                out
            }
        }
    }

    fn last(&self, answers: &[Answer]) -> String {
        let p = &self.prepared;
        let completion_tokens: u32 = answers.iter().map(Answer::completion_tokens).sum();
        match p.openai {
            None => {
                let usage = Usage {
                    prompt_tokens: p.prompt_tokens,
                    completion_tokens,
                    total_tokens: p.prompt_tokens + completion_tokens,
                    finish_reason: answers[0].finish_reason,
                };
                let last = StreamResult {
                    id: p.id.clone(),
                    model: p.model.clone(),
                    delta: String::new(),
                    reasoning_delta: None,
                    created_at: p.created,
                    index: (p.n > 1).then_some(0),
                    usage: Some(usage),
                };
                sse_success(last) + SSE_DONE
            }
            Some(include_usage) => {
                let mut out = String::new();
                for (i, answer) in answers.iter().enumerate() {
                    out += &ChatCompletionChunk::finish(
                        &p.id,
                        &p.model,
                        p.created,
                        i as u32,
                        answer.finish_reason,
                    )
                    .to_sse();
                }
                if include_usage {
                    let usage = OpenAiUsage::new(p.prompt_tokens, completion_tokens);
                    out += &ChatCompletionChunk::usage(&p.id, &p.model, p.created, usage).to_sse();
                }
                out + SSE_DONE
            }
        }
    }
}
