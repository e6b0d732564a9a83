//! The upstream mode: the worker checks the caller's key and the request with the contract's
//! own code, forwards what it admits to `UPSTREAM_URL` (a `hearth serve`, or anything that
//! speaks the contract), and turns the upstream's failures into the contract's 502 and 504.

use futures_util::future::{Either, select};
use hearth::contract::{Admitted, ApiError, ErrorKind, Received};
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, Response, Result,
    js_sys::Uint8Array,
};

use crate::http;
use crate::settings::{Settings, Upstream};

/// How much of an unusable upstream body an error message quotes.
const QUOTE_CHARS: usize = 80;

pub async fn handle(
    settings: &Settings,
    upstream: &Upstream,
    received: &Received,
) -> Result<Response> {
    match settings.admit(&received.incoming()) {
        Err(e) => http::error(&received.path, &e),
        Ok(Admitted::Health) => http::health(),
        Ok(_) => match forward(upstream, received).await {
            Ok(response) => Ok(response),
            Err(e) => http::error(&received.path, &e),
        },
    }
}

/// Sends the admitted request upstream and waits at most `upstream.timeout` for its headers.
async fn forward(
    upstream: &Upstream,
    received: &Received,
) -> std::result::Result<Response, ApiError> {
    let url = format!("{}{}", upstream.base, received.path);
    let request = build(upstream, received, &url)
        .map_err(|e| ApiError::internal(format!("building the upstream request to {url}: {e}")))?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let send = fetch.send_with_signal(&signal);
    let timeout = Delay::from(upstream.timeout);
    futures_util::pin_mut!(send, timeout);
    let response = match select(send, timeout).await {
        Either::Left((Ok(response), _)) => response,
        Either::Left((Err(e), _)) => {
            return Err(ApiError::new(
                ErrorKind::BadGateway,
                format!("the upstream {} could not be reached: {e}", upstream.base),
            ));
        }
        Either::Right(_) => {
            controller.abort();
            return Err(ApiError::new(
                ErrorKind::GatewayTimeout,
                format!(
                    "the upstream did not answer within {} ms",
                    upstream.timeout.as_millis()
                ),
            ));
        }
    };
    relay(response).await
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
/// Successes and the caller's own errors (4xx) pass through; an event stream is passed on
/// as it arrives.
async fn relay(mut response: Response) -> std::result::Result<Response, ApiError> {
    let status = response.status_code();
    let content_type = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if status == 401 || status == 403 {
        // The caller's key was checked here; a refusal upstream is the worker's UPSTREAM_KEY.
        return Err(ApiError::bad_gateway(
            status,
            "the upstream refused the worker's credentials (UPSTREAM_KEY)",
        ));
    }
    let passable = (200..300).contains(&status) || (400..500).contains(&status);
    if passable && status < 300 && content_type.starts_with("text/event-stream") {
        let headers = [
            ("content-type", content_type),
            ("cache-control", "no-cache".to_string()),
        ];
        let (_, body) = response.into_parts();
        return Ok(http::builder(status, &headers)
            .map_err(ApiError::internal)?
            .body(body));
    }
    let text = response
        .text()
        .await
        .map_err(|e| ApiError::bad_gateway(status, format!("reading its body failed: {e}")))?;
    let json = serde_json::from_str::<serde_json::Value>(&text).ok();
    match json {
        Some(serde_json::Value::Object(_)) if passable => {
            let headers = [("content-type", "application/json".to_string())];
            Ok(http::builder(status, &headers)
                .map_err(ApiError::internal)?
                .fixed(text.into_bytes()))
        }
        Some(body) => Err(ApiError::bad_gateway(
            status,
            upstream_message(&body, &text),
        )),
        None => Err(ApiError::bad_gateway(
            status,
            format!("the body is not JSON: {}", quote(&text)),
        )),
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
