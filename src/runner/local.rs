//! The engine as the service's `Runner` on a single-threaded wasm runtime (a worker isolate,
//! a browser tab or Web Worker): one engine, no queue. Each generation runs as a task of its
//! own, awaiting the runtime's `pause` after every token so that the runtime sends the deltas
//! out (and hears an abort) as they come.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasm_bindgen_futures::spawn_local;

use super::{Finished, Job, JobError, JobEvent, Runner, report_deltas};
use crate::contract::ApiError;
use crate::engine::Engine;
use crate::generate::{GenerationRequest, generate_paced};
use crate::text::ChatFormat;

/// A yield to the runtime's event loop: a macrotask, since microtasks run before the
/// runtime flushes a stream or delivers a message.
pub type Pause = Pin<Box<dyn Future<Output = ()>>>;

pub struct LocalRunner {
    engine: Arc<Engine>,
    pause: fn() -> Pause,
    /// Bumped by [`LocalRunner::abort`]; a generation started in an earlier epoch stops.
    epoch: Arc<AtomicU64>,
}

impl LocalRunner {
    pub fn new(engine: Engine, pause: fn() -> Pause) -> Self {
        Self {
            engine: Arc::new(engine),
            pause,
            epoch: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Ends every running generation with what it has so far (finish_reason `abort`).
    pub fn abort(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }
}

impl Runner for LocalRunner {
    fn format(&self) -> &ChatFormat {
        &self.engine.format
    }

    fn context_length(&self) -> usize {
        self.engine.context_length()
    }

    /// Never 503: there is no queue to fill. The task is spawned while the caller's request
    /// runs (a Workers runtime refuses I/O on behalf of another request). A dropped job (the
    /// client went away) or an abort ends generation at the next token.
    fn submit(&self, request: GenerationRequest) -> Result<Job, ApiError> {
        let (events, job) = Job::channel();
        let engine = self.engine.clone();
        let (pause, epoch) = (self.pause, self.epoch.clone());
        let started = epoch.load(Ordering::Relaxed);
        spawn_local(async move {
            let mut report = report_deltas(&events);
            let cancel = request.cancel.clone();
            let on_delta = |index: usize, text: &str| {
                epoch.load(Ordering::Relaxed) == started
                    && !cancel.is_cancelled()
                    && report(index, text)
            };
            let done = generate_paced(&engine.model, &engine.format, &request, on_delta, pause)
                .await
                .map(|answers| Finished {
                    answers,
                    // Each generation prefills its own prompt.
                    cached_tokens: 0,
                })
                .map_err(JobError::from);
            let _ = events.try_send(JobEvent::Done(done));
        });
        Ok(job)
    }
}
