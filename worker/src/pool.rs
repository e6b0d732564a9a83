//! Several upstreams behind one edge. A request goes to the upstream with the fewest requests
//! in flight from this isolate; one that refuses the connection or fails (5xx) before its
//! first byte rests for a while and the request is tried on the next. What the isolate knows
//! of each lives as long as the isolate.

use std::cell::RefCell;
use std::collections::HashMap;

/// How long a failing upstream is passed over, in milliseconds.
const REST_MS: f64 = 10_000.0;

#[derive(Default)]
struct State {
    in_flight: u32,
    /// `Date.now()` until which it is passed over.
    resting_until: f64,
    failures: u64,
}

thread_local! {
    static POOL: RefCell<HashMap<String, State>> = RefCell::new(HashMap::new());
}

fn now() -> f64 {
    worker::js_sys::Date::now()
}

fn with<T>(base: &str, f: impl FnOnce(&mut State) -> T) -> T {
    POOL.with(|pool| f(pool.borrow_mut().entry(base.to_string()).or_default()))
}

/// The order to try `bases` in: those not resting before those resting (a request is never
/// refused only because every upstream rests), fewest in flight first, then as configured.
pub fn order(bases: &[String]) -> Vec<&str> {
    let t = now();
    let mut ranked: Vec<(bool, u32, usize, &str)> = bases
        .iter()
        .enumerate()
        .map(|(i, base)| {
            with(base, |s| {
                (s.resting_until > t, s.in_flight, i, base.as_str())
            })
        })
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(.., base)| base).collect()
}

/// Passes `base` over for a while.
pub fn rest(base: &str) {
    with(base, |s| {
        s.resting_until = now() + REST_MS;
        s.failures += 1;
    });
}

/// `base` answered: it no longer rests.
pub fn answered(base: &str) {
    with(base, |s| s.resting_until = 0.0);
}

/// One request in flight to an upstream, until dropped (for a stream: when it ends).
pub struct InFlight(String);

impl InFlight {
    pub fn start(base: &str) -> Self {
        with(base, |s| s.in_flight += 1);
        Self(base.to_string())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        with(&self.0, |s| s.in_flight = s.in_flight.saturating_sub(1));
    }
}

/// What `/healthz` says of each upstream.
pub fn report(bases: &[String]) -> serde_json::Value {
    let t = now();
    let upstreams: Vec<_> = bases
        .iter()
        .map(|base| {
            with(base, |s| {
                serde_json::json!({
                    "url": base,
                    "in_flight": s.in_flight,
                    "resting": s.resting_until > t,
                    "failures": s.failures,
                })
            })
        })
        .collect();
    serde_json::Value::Array(upstreams)
}
