//! The upstream mode: the worker checks the caller's key and the request with the contract's
//! own code, forwards what it admits to one of `UPSTREAM_URLS` (each a `hearth serve`, or
//! anything that speaks the contract; see `pool`), relays its answers and its 503 (busy), and
//! turns its failures into the contract's 502 and 504.

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use hearth::contract::{Admitted, ApiError, Envelope, ErrorKind, Received};
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, Response, Result,
    console_log, js_sys::Uint8Array,
};

use crate::settings::{Settings, Upstream};
use crate::{http, pool};

/// How much of an unusable upstream body an error message quotes.
const QUOTE_CHARS: usize = 80;

pub async fn handle(
    settings: &Settings,
    upstream: &Upstream,
    received: &Received,
) -> Result<Response> {
    match settings.admit(&received.incoming()) {
        Err(e) => http::error(&received.path, &e),
        Ok(Admitted::Health) => health(upstream),
        Ok(_) => match forward(upstream, received).await {
            Ok(response) => Ok(response),
            Err(e) => http::error(&received.path, &e),
        },
    }
}

/// GET /healthz: the edge is up, with what it knows of each upstream.
fn health(upstream: &Upstream) -> Result<Response> {
    let result = serde_json::json!({"status": "ok", "upstreams": pool::report(&upstream.bases)});
    let headers = [("content-type", "application/json".to_string())];
    let body = Envelope::success(result).to_json();
    Ok(http::builder(200, &headers)?.fixed(body.into_bytes()))
}

/// How one upstream answered.
enum Attempt {
    /// Its answer, to pass on.
    Answered(Response),
    /// 503 busy: another may have room; passed on if none has.
    Busy(Response),
    /// Refused the connection or failed (5xx) before its first byte: it rests, and the next
    /// one is tried.
    Failed(ApiError),
    /// An answer no other upstream would improve (a timeout, a refused worker key, garbage).
    Final(ApiError),
}

/// Sends the admitted request to each upstream in the pool's order until one answers.
async fn forward(
    upstream: &Upstream,
    received: &Received,
) -> std::result::Result<Response, ApiError> {
    let mut last = None;
    for base in pool::order(&upstream.bases) {
        match attempt(upstream, base, received).await {
            Attempt::Answered(response) => {
                pool::answered(base);
                return Ok(response);
            }
            Attempt::Busy(response) => last = Some(Ok(response)),
            Attempt::Failed(e) => {
                console_log!("upstream {base} failed, resting it: {}", e.message);
                pool::rest(base);
                last = Some(Err(e));
            }
            Attempt::Final(e) => return Err(e),
        }
    }
    last.expect("at least one upstream")
}

/// Sends the request to `base` and waits at most `upstream.timeout` for its headers.
async fn attempt(upstream: &Upstream, base: &str, received: &Received) -> Attempt {
    let in_flight = pool::InFlight::start(base);
    let url = format!("{base}{}", received.path);
    let request = match build(upstream, received, &url) {
        Ok(request) => request,
        Err(e) => {
            let e = ApiError::internal(format!("building the upstream request to {url}: {e}"));
            return Attempt::Final(e);
        }
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let send = fetch.send_with_signal(&signal);
    let timeout = Delay::from(upstream.timeout);
    futures_util::pin_mut!(send, timeout);
    let response = match select(send, timeout).await {
        Either::Left((Ok(response), _)) => response,
        Either::Left((Err(e), _)) => {
            return Attempt::Failed(ApiError::new(
                ErrorKind::BadGateway,
                format!("the upstream {base} could not be reached: {e}"),
            ));
        }
        Either::Right(_) => {
            controller.abort();
            return Attempt::Final(ApiError::new(
                ErrorKind::GatewayTimeout,
                format!(
                    "the upstream did not answer within {} ms",
                    upstream.timeout.as_millis()
                ),
            ));
        }
    };
    relay(response, in_flight).await
}

fn build(upstream: &Upstream, received: &Received, url: &str) -> Result<Request> {
    let headers = Headers::new();
    if let Some(content_type) = &received.content_type {
        headers.set("content-type", content_type)?;
    }
    if let Some(key) = &upstream.key {
        headers.set("authorization", &format!("Bearer {key}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(received.method.clone()))
        .with_headers(headers);
    if !received.body.is_empty() {
        init.with_body(Some(Uint8Array::from(received.body.as_slice()).into()));
    }
    Request::new_with_init(url, &init)
}

/// The upstream's answer if it is one the contract allows, else 502 naming its status.
/// Successes, the caller's own errors (4xx) and "busy, try again" (503, with its Retry-After)
/// pass through; an event stream is passed on as it arrives, in flight until it ends.
async fn relay(mut response: Response, in_flight: pool::InFlight) -> Attempt {
    let status = response.status_code();
    let content_type = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if status == 401 || status == 403 {
        // The caller's key was checked here; a refusal upstream is the worker's UPSTREAM_KEY.
        return Attempt::Final(ApiError::bad_gateway(
            status,
            "the upstream refused the worker's credentials (UPSTREAM_KEY)",
        ));
    }
    let passable = (200..300).contains(&status) || (400..500).contains(&status) || status == 503;
    let retry_after = response.headers().get("retry-after").ok().flatten();
    if passable && status < 300 && content_type.starts_with("text/event-stream") {
        let headers = [
            ("content-type", content_type),
            ("cache-control", "no-cache".to_string()),
        ];
        let built = response.stream().and_then(|chunks| {
            // The stream holds its place in flight until it ends or the client leaves.
            let chunks = chunks.map(move |chunk| {
                let _ = &in_flight;
                chunk
            });
            http::builder(status, &headers)?.from_stream(chunks)
        });
        return match built {
            Ok(response) => Attempt::Answered(response),
            Err(e) => Attempt::Final(ApiError::internal(e)),
        };
    }
    let text = match response.text().await {
        Ok(text) => text,
        Err(e) => {
            let e = ApiError::bad_gateway(status, format!("reading its body failed: {e}"));
            return Attempt::Failed(e);
        }
    };
    let json = serde_json::from_str::<serde_json::Value>(&text).ok();
    let e = match json {
        Some(serde_json::Value::Object(_)) if passable => {
            let mut headers = vec![("content-type", "application/json".to_string())];
            headers.extend(retry_after.map(|seconds| ("retry-after", seconds)));
            let built = http::builder(status, &headers).map(|b| b.fixed(text.into_bytes()));
            return match (built, status) {
                (Ok(response), 503) => Attempt::Busy(response),
                (Ok(response), _) => Attempt::Answered(response),
                (Err(e), _) => Attempt::Final(ApiError::internal(e)),
            };
        }
        Some(body) => ApiError::bad_gateway(status, upstream_message(&body, &text)),
        None => ApiError::bad_gateway(status, format!("the body is not JSON: {}", quote(&text))),
    };
    match status >= 500 {
        true => Attempt::Failed(e),
        false => Attempt::Final(e),
    }
}

/// The message inside an upstream error (the envelope's or OpenAI's), else the body quoted.
fn upstream_message(body: &serde_json::Value, text: &str) -> String {
    body.get("message")
        .or_else(|| body.get("error").and_then(|e| e.get("message")))
        .and_then(|m| m.as_str())
        .map(String::from)
        .unwrap_or_else(|| quote(text))
}

fn quote(text: &str) -> String {
    let cut: String = text.chars().take(QUOTE_CHARS).collect();
    match cut.len() < text.len() {
        true => format!("{cut:?}…"),
        false => format!("{cut:?}"),
    }
}
