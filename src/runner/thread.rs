//! The native runner: one engine thread per model stepping the [`Scheduler`], with a queue
//! of requests waiting for a slot in front of it. Past `parallel + max_queue` requests a new
//! one gets 503; a job whose receiver is gone (the client hung up) frees its slot at the next
//! step.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::scheduler::{Scheduler, SlotOptions, Work};
use super::{Job, Load, Runner};
use crate::contract::ApiError;
use crate::engine::Engine;
use crate::generate::GenerationRequest;
use crate::text::ChatFormat;

/// How long a client refused with 503 should wait before trying again, in seconds.
const RETRY_AFTER_S: u32 = 1;

pub struct EngineThread {
    format: ChatFormat,
    context_length: usize,
    queue: async_channel::Sender<Work>,
    /// Requests running or waiting; at `limit` a new one is refused.
    active: Arc<AtomicUsize>,
    limit: usize,
    usage: Arc<Usage>,
    options: SlotOptions,
}

/// What the engine thread last saw of its slots.
#[derive(Default)]
struct Usage {
    requests: AtomicUsize,
    busy_slots: AtomicUsize,
    kv_used: AtomicUsize,
}

impl EngineThread {
    /// Moves `engine` onto its own thread with `options.parallel` slots; at most `max_queue`
    /// requests wait for a slot.
    pub fn spawn(engine: Engine, options: SlotOptions, max_queue: usize) -> std::io::Result<Self> {
        let (queue, inbox) = async_channel::unbounded::<Work>();
        let format = engine.format.clone();
        let active = Arc::new(AtomicUsize::new(0));
        let usage = Arc::new(Usage::default());
        let (left, seen) = (active.clone(), usage.clone());
        std::thread::Builder::new()
            .name("hearth-engine".into())
            .spawn(move || {
                let scheduler = Scheduler::new(Arc::new(engine), options);
                run(scheduler, inbox, &left, &seen)
            })?;
        Ok(Self {
            format,
            context_length: options.ctx_size,
            queue,
            active,
            limit: options.parallel + max_queue,
            usage,
            options,
        })
    }
}

/// Steps while anything runs, waits for work when nothing does; ends when the service is
/// dropped (the queue's senders are gone) and nothing runs.
/// `active` drops by each request that leaves (answered, failed or abandoned); `usage` is
/// what the last step left.
fn run(
    mut scheduler: Scheduler,
    inbox: async_channel::Receiver<Work>,
    active: &AtomicUsize,
    usage: &Usage,
) {
    loop {
        if scheduler.idle() {
            match inbox.recv_blocking() {
                Ok(work) => scheduler.admit(work),
                Err(_) => return,
            }
        }
        // Whatever arrived joins at this step, as far as slots allow.
        while scheduler.can_admit() {
            match inbox.try_recv() {
                Ok(work) => scheduler.admit(work),
                Err(_) => break,
            }
        }
        let before = scheduler.requests();
        // A fault inside the model answers what was running with a 500; the thread keeps
        // serving.
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| pollster::block_on(scheduler.step())))
        {
            let message = panic_message(&panic);
            tracing::error!(%message, "generation failed");
            scheduler.fail_all(&message);
        }
        active.fetch_sub(before - scheduler.requests(), Relaxed);
        let (busy, kv_used) = scheduler.usage();
        usage.requests.store(scheduler.requests(), Relaxed);
        usage.busy_slots.store(busy, Relaxed);
        usage.kv_used.store(kv_used, Relaxed);
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Runner for EngineThread {
    fn format(&self) -> &ChatFormat {
        &self.format
    }

    fn context_length(&self) -> usize {
        self.context_length
    }

    fn load(&self) -> Load {
        let admitted = self.usage.requests.load(Relaxed);
        Load {
            waiting: self.active.load(Relaxed).saturating_sub(admitted),
            busy_slots: self.usage.busy_slots.load(Relaxed),
            slots: self.options.parallel,
            kv_used: self.usage.kv_used.load(Relaxed),
            kv_capacity: self.options.parallel * self.options.ctx_size,
        }
    }

    fn submit(&self, request: GenerationRequest) -> Result<Job, ApiError> {
        if self.active.fetch_add(1, Relaxed) >= self.limit {
            self.active.fetch_sub(1, Relaxed);
            return Err(ApiError::busy(RETRY_AFTER_S));
        }
        let (events, job) = Job::channel();
        match self.queue.try_send(Work { request, events }) {
            Ok(()) => Ok(job),
            Err(_) => Err(ApiError::internal("the engine thread stopped")),
        }
    }
}
