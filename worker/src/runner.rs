//! The engine as the service's `Runner` inside the isolate: one thread, no queue. Each
//! generation runs as its own task of the request that asked for it, pausing for a timer tick
//! after every token so the runtime can send the deltas out as they come.

use std::sync::Arc;
use std::time::Duration;

use hearth::contract::ApiError;
use hearth::engine::Engine;
use hearth::generate::{GenerationRequest, generate_paced};
use hearth::service::{Job, JobEvent, Runner, report_deltas};
use hearth::text::ChatFormat;
use worker::Delay;
use worker::wasm_bindgen_futures::spawn_local;

pub struct IsolateRunner {
    engine: Arc<Engine>,
}

impl IsolateRunner {
    pub fn new(engine: Engine) -> Self {
        Self {
            engine: Arc::new(engine),
        }
    }
}

impl Runner for IsolateRunner {
    fn format(&self) -> &ChatFormat {
        &self.engine.format
    }

    fn context_length(&self) -> usize {
        self.engine.context_length()
    }

    /// Never 503: the platform spreads load over isolates. The task is spawned while this
    /// request's handler runs, so its timers and wake-ups belong to this request (the Workers
    /// runtime refuses I/O on behalf of another request). A dropped job (the client went
    /// away) aborts at the next token.
    fn submit(&self, request: GenerationRequest) -> Result<Job, ApiError> {
        let (events, job) = Job::channel();
        let engine = self.engine.clone();
        spawn_local(async move {
            // A macrotask, not a microtask: only then does the runtime flush the stream.
            let pause = || Delay::from(Duration::ZERO);
            let done = generate_paced(
                &engine.model,
                &engine.format,
                &request,
                report_deltas(&events),
                pause,
            )
            .await
            .map_err(|e| e.to_string());
            let _ = events.try_send(JobEvent::Done(done));
        });
        Ok(job)
    }
}
