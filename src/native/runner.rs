//! One engine thread per model with a bounded queue in front of it. A job whose receiver is
//! gone (the client hung up) is skipped if still queued, or stops at its next token.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use crate::contract::ApiError;
use crate::engine::Engine;
use crate::generate::{GenerationRequest, generate};
use crate::service::{Job, JobEvent, Runner, report_deltas};
use crate::text::ChatFormat;

/// How long a client refused with 503 should wait before trying again, in seconds.
const RETRY_AFTER_S: u32 = 1;

struct Work {
    request: GenerationRequest,
    events: async_channel::Sender<JobEvent>,
}

pub struct EngineThread {
    format: ChatFormat,
    context_length: usize,
    queue: SyncSender<Work>,
}

impl EngineThread {
    /// Moves `engine` onto its own thread; at most `max_queue` jobs wait behind the running one.
    pub fn spawn(engine: Engine, max_queue: usize) -> std::io::Result<Self> {
        let (queue, jobs) = sync_channel::<Work>(max_queue);
        let format = engine.format.clone();
        let context_length = engine.context_length();
        std::thread::Builder::new()
            .name("hearth-engine".into())
            .spawn(move || {
                for work in jobs {
                    run(&engine, work);
                }
            })?;
        Ok(Self {
            format,
            context_length,
            queue,
        })
    }
}

fn run(engine: &Engine, work: Work) {
    if work.events.is_closed() {
        return;
    }
    let events = &work.events;
    // A fault inside the model answers this request with a 500; the thread keeps serving.
    let result = catch_unwind(AssertUnwindSafe(|| {
        pollster::block_on(generate(
            &engine.model,
            &engine.format,
            &work.request,
            report_deltas(events),
        ))
    }));
    let done = match result {
        Ok(Ok(answers)) => Ok(answers),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(panic_message(&panic)),
    };
    if let Err(message) = &done {
        tracing::error!(%message, "generation failed");
    }
    let _ = events.try_send(JobEvent::Done(done));
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("the engine failed: {text}")
}

impl Runner for EngineThread {
    fn format(&self) -> &ChatFormat {
        &self.format
    }

    fn context_length(&self) -> usize {
        self.context_length
    }

    fn submit(&self, request: GenerationRequest) -> Result<Job, ApiError> {
        let (events, job) = Job::channel();
        match self.queue.try_send(Work { request, events }) {
            Ok(()) => Ok(job),
            Err(TrySendError::Full(_)) => Err(ApiError::busy(RETRY_AFTER_S)),
            Err(TrySendError::Disconnected(_)) => {
                Err(ApiError::internal("the engine thread stopped"))
            }
        }
    }
}
