//! The transport-free handler every runtime calls: a request (method, path, the two headers
//! that matter, body) in; a status, headers and a body or an event stream out. The rules
//! live in `contract`; this adds the models, prompts and generation.

mod render;
mod stream;

pub use render::{Dialect, Rendering};
pub use stream::EventStream;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::contract::{
    Admitted, Answer, ApiError, CompletionRequest, Envelope, HealthResult, Incoming, ModelInfo,
    ModelsResult, Policy, admit, admit_head, completion_id, error_body, generation_budget,
};
use crate::generate::{Cancel, GenerationRequest, SamplingParams};
use crate::runner::{Finished, Job, JobEvent, Runner};
use crate::text::ReasoningSplitter;

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
    /// Of the prompt, found in the prompt cache.
    pub cached: u32,
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

impl Service {
    pub fn new(config: Config) -> Self {
        let ids = config.models.iter().map(|m| m.id.clone()).collect();
        Self {
            config,
            ids,
            counter: AtomicU64::new(0),
        }
    }

    fn policy(&self) -> Policy<'_> {
        Policy {
            keys: &self.config.keys,
            body_limit: self.config.body_limit,
            served: &self.ids,
        }
    }

    /// The checks that need no body (route, key, content type), for a transport to make
    /// before it reads the body.
    pub fn admit_head(&self, req: &Incoming<'_>) -> Result<(), ApiError> {
        admit_head(req, &self.policy()).map(drop)
    }

    pub async fn handle(&self, req: &Incoming<'_>) -> Response {
        self.handle_cancellable(req, Cancel::default()).await
    }

    /// [`Service::handle`], with `cancel` ending a generation early (finish_reason `abort`).
    pub async fn handle_cancellable(&self, req: &Incoming<'_>, cancel: Cancel) -> Response {
        let admitted = match admit(req, &self.policy()) {
            Ok(admitted) => admitted,
            Err(e) => return Response::error(req.path, &e),
        };
        let result = match admitted {
            Admitted::Health => Ok(Response::json(
                200,
                Envelope::success(HealthResult::ok()).to_json(),
            )),
            Admitted::Models => Ok(self.models()),
            Admitted::Completion { request, model } => {
                self.complete(request, model, Dialect::Seed, cancel).await
            }
            Admitted::ChatCompletion { request, model } => {
                let dialect = Dialect::OpenAi {
                    include_usage: request.include_usage,
                };
                self.complete(request.request, model, dialect, cancel).await
            }
        };
        result.unwrap_or_else(|e| Response::error(req.path, &e))
    }

    /// Each served model's id and its runner's load.
    pub fn loads(&self) -> Vec<(&str, crate::runner::Load)> {
        let models = self.config.models.iter();
        models.map(|m| (m.id.as_str(), m.runner.load())).collect()
    }

    /// Whether `authorization` carries a key the service accepts (always, without keys).
    pub fn authorize(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        crate::contract::check_auth(authorization, &self.config.keys)
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

    async fn complete(
        &self,
        request: CompletionRequest,
        model: usize,
        dialect: Dialect,
        cancel: Cancel,
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
        let rendering = Rendering {
            id: completion_id(unique),
            model: served.id.clone(),
            created: (self.config.clock)(),
            prompt_tokens: prompt_ids.len() as u32,
            n: request.n as usize,
            dialect,
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
            cancel,
        })?;
        if request.stream {
            let content_type = "text/event-stream".to_string();
            return Ok(Response {
                status: 200,
                headers: vec![
                    ("content-type", content_type),
                    ("cache-control", "no-cache".into()),
                ],
                body: Body::Stream(EventStream::new(rendering, prompt.reasoning, job)),
                tokens: None,
            });
        }
        let Finished {
            mut answers,
            cached_tokens,
        } = collect(job).await?;
        if let Some(inside) = prompt.reasoning {
            for answer in &mut answers {
                let split = ReasoningSplitter::split(inside, &answer.text);
                answer.text = split.answer;
                answer.reasoning = (!split.reasoning.is_empty()).then_some(split.reasoning);
            }
        }
        let tokens = TokenCounts {
            prompt: rendering.prompt_tokens,
            cached: cached_tokens,
            completion: answers.iter().map(Answer::completion_tokens).sum(),
        };
        Ok(Response {
            tokens: Some(tokens),
            ..Response::json(200, rendering.body(&answers, cached_tokens))
        })
    }
}

async fn collect(job: Job) -> Result<Finished, ApiError> {
    while let Ok(event) = job.events.recv().await {
        if let JobEvent::Done(result) = event {
            return result.map_err(ApiError::internal);
        }
    }
    Err(ApiError::internal("the engine stopped before answering"))
}
