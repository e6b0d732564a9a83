//! `GET /metrics` in Prometheus' text format: what the server answered, the tokens it read,
//! found cached and wrote, how busy each model's runner is, and how long streaming clients
//! waited for their first token and between tokens.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::runner::Load;
use crate::service::TokenCounts;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<u16, u64>>,
    prompt_tokens: AtomicU64,
    cached_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    first_token: Histogram,
    inter_token: Histogram,
}

/// A runner gauge: its name, its help, and how to read it off a [`Load`].
type Gauge = (&'static str, &'static str, fn(&Load) -> usize);

/// Seconds; the buckets of both latency histograms.
const BOUNDS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    /// Per bucket of [`BOUNDS`], observations at most its bound (not cumulative).
    buckets: [AtomicU64; BOUNDS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let seconds = d.as_secs_f64();
        if let Some(i) = BOUNDS.iter().position(|&b| seconds <= b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BOUNDS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

impl Metrics {
    /// A request answered with `status`.
    pub fn answered(&self, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests.entry(status).or_default() += 1;
    }

    /// A completion's tokens, once it ended.
    pub fn tokens(&self, t: TokenCounts) {
        self.prompt_tokens.fetch_add(t.prompt.into(), Relaxed);
        self.cached_tokens.fetch_add(t.cached.into(), Relaxed);
        self.completion_tokens
            .fetch_add(t.completion.into(), Relaxed);
    }

    /// A stream's first event, `d` after its request arrived.
    pub fn first_token(&self, d: Duration) {
        self.first_token.observe(d);
    }

    /// A stream's next event, `d` after its last one.
    pub fn inter_token(&self, d: Duration) {
        self.inter_token.observe(d);
    }

    /// The exposition, with each served model's runner load.
    pub fn render(&self, models: &[(&str, Load)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP hearth_requests_total Requests answered, by HTTP status.\n# TYPE hearth_requests_total counter"
        );
        for (status, n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(out, "hearth_requests_total{{status=\"{status}\"}} {n}");
        }
        for (name, help, value) in [
            (
                "prompt",
                "Prompt tokens of finished completions.",
                &self.prompt_tokens,
            ),
            (
                "cached",
                "Prompt tokens found in the prompt cache instead of prefilled.",
                &self.cached_tokens,
            ),
            ("completion", "Tokens generated.", &self.completion_tokens),
        ] {
            let name = format!("hearth_{name}_tokens_total");
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Relaxed));
        }
        let gauges: [Gauge; 5] = [
            ("queue_depth", "Requests waiting for a slot.", |l| l.waiting),
            ("busy_slots", "Slots running a sequence.", |l| l.busy_slots),
            ("slots", "Slots (--parallel).", |l| l.slots),
            (
                "kv_used_positions",
                "KV cache positions holding a running or cached sequence.",
                |l| l.kv_used,
            ),
            (
                "kv_capacity_positions",
                "KV cache positions in all slots.",
                |l| l.kv_capacity,
            ),
        ];
        for (name, help, value) in gauges {
            let name = format!("hearth_{name}");
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (model, load) in models {
                let model = model.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "{name}{{model=\"{model}\"}} {}", value(load));
            }
        }
        self.first_token.render(
            &mut out,
            "hearth_time_to_first_token_seconds",
            "From a streamed request's arrival to its first event.",
        );
        self.inter_token.render(
            &mut out,
            "hearth_inter_token_seconds",
            "Between a stream's consecutive events.",
        );
        out
    }
}
