//! One request's own stop: set by whoever sent it (the browser's AbortSignal), read by the
//! runner at each token, which then ends that request's answers with finish_reason `abort`
//! and their usage, as if it had reached a limit. Dropping the job, by contrast, ends
//! generation with nobody told.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
