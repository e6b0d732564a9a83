//! Where generation runs, behind one trait the service calls: natively an engine thread with a
//! queue in front ([`thread`]), in wasm the engine itself on the runtime's event loop
//! (`local`, wasm only). A runner answers a submitted request with a [`Job`]: the deltas as they come,
//! then the answers or why there are none.

#[cfg(target_family = "wasm")]
pub mod local;
pub mod scheduler;
#[cfg(feature = "native")]
pub mod thread;

use crate::contract::{Answer, ApiError};
use crate::generate::{GenerateError, GenerationRequest};
use crate::text::ChatFormat;

pub trait Runner: Send + Sync {
    fn format(&self) -> &ChatFormat;
    fn context_length(&self) -> usize;
    /// Starts a job, or refuses (503) when at capacity.
    fn submit(&self, request: GenerationRequest) -> Result<Job, ApiError>;
    /// How busy it is now (a runner without slots reports none).
    fn load(&self) -> Load {
        Load::default()
    }
}

/// How busy a runner is, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Load {
    /// Requests waiting for a slot.
    pub waiting: usize,
    pub busy_slots: usize,
    pub slots: usize,
    /// KV cache positions holding a running or cached sequence.
    pub kv_used: usize,
    pub kv_capacity: usize,
}

/// Why a job ended without answers.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// A fault inside the model; the runner keeps serving.
    #[error("the engine failed: {0}")]
    Panicked(String),
}

/// A request's answers, once all are in.
#[derive(Debug)]
pub struct Finished {
    pub answers: Vec<Answer>,
    /// Prompt tokens whose keys and values were found cached instead of prefilled.
    pub cached_tokens: u32,
}

/// What a runner reports while it generates.
#[derive(Debug)]
pub enum JobEvent {
    Delta { index: usize, text: String },
    Done(Result<Finished, JobError>),
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
