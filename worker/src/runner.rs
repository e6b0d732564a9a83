//! The engine as the service's `Runner` inside the isolate: one thread, no queue, the
//! generation runs in the request that asked for it.

use futures_util::FutureExt;
use hearth::contract::ApiError;
use hearth::engine::Engine;
use hearth::generate::{GenerationRequest, generate};
use hearth::service::{Job, JobEvent, Runner, report_deltas};
use hearth::text::ChatFormat;

pub struct IsolateRunner {
    engine: Engine,
    format: ChatFormat,
    context_length: usize,
}

impl IsolateRunner {
    pub fn new(engine: Engine) -> Self {
        Self {
            format: engine.format.clone(),
            context_length: engine.context_length(),
            engine,
        }
    }
}

impl Runner for IsolateRunner {
    fn format(&self) -> &ChatFormat {
        &self.format
    }

    fn context_length(&self) -> usize {
        self.context_length
    }

    /// Runs the whole generation before returning: flex's reads are ready at once, so the
    /// future never waits, and finishing here means no other request's event can be the one
    /// that wakes this request (the Workers runtime would refuse its I/O then). Never 503:
    /// requests in one isolate run one after another, and the platform spreads load over
    /// isolates. A stream's events are therefore all ready when its body starts.
    fn submit(&self, request: GenerationRequest) -> Result<Job, ApiError> {
        let (events, job) = Job::channel();
        let engine = &self.engine;
        let done = match generate(
            &engine.model,
            &engine.format,
            &request,
            report_deltas(&events),
        )
        .now_or_never()
        {
            Some(result) => result.map_err(|e| e.to_string()),
            None => {
                Err("a device read did not complete at once; the isolate runs on flex only".into())
            }
        };
        let _ = events.try_send(JobEvent::Done(done));
        Ok(job)
    }
}
