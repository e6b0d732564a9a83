//! Between the Workers runtime's requests and responses and the contract's transport-free
//! types.

use futures_util::stream;
use hearth::contract::{ApiError, Envelope, HealthResult, Received, error_body};
use hearth::service::{self, Body};
use worker::{Headers, Request, Response, ResponseBuilder, Result};

/// Reads a request from the runtime, owned so it outlives the runtime's `Request`.
pub async fn read(mut req: Request) -> Result<Received> {
    let url = req.url()?;
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let headers = req.headers();
    let authorization = headers.get("authorization")?;
    let content_type = headers.get("content-type")?;
    // The raw method: the contract treats methods as case-sensitive.
    let method = req.inner().method();
    let body = match method.as_str() {
        "GET" | "HEAD" => Vec::new(),
        _ => req.bytes().await?,
    };
    Ok(Received {
        method,
        path,
        authorization,
        content_type,
        body,
    })
}

/// The contract's error answer for a request to `path` (OpenAI's shape under `/v1/`).
pub fn error(path: &str, e: &ApiError) -> Result<Response> {
    let mut headers = vec![("content-type", "application/json".to_string())];
    headers.extend(e.headers());
    Ok(builder(e.status, &headers)?.fixed(error_body(path, e).into_bytes()))
}

/// The service's answer as a runtime response; an event stream is sent as it is produced.
pub fn respond(response: service::Response, extra: &[(&'static str, String)]) -> Result<Response> {
    let mut headers = response.headers;
    headers.extend_from_slice(extra);
    let builder = builder(response.status, &headers)?;
    match response.body {
        Body::Full(text) => Ok(builder.fixed(text.into_bytes())),
        Body::Stream(events) => {
            let chunks = stream::unfold(events, |mut events| async move {
                let chunk = events.next().await?;
                Some((Ok::<_, worker::Error>(chunk.into_bytes()), events))
            });
            builder.from_stream(chunks)
        }
    }
}

pub fn builder(status: u16, headers: &[(&str, String)]) -> Result<ResponseBuilder> {
    let map = Headers::new();
    for (name, value) in headers {
        map.append(name, value)?;
    }
    Ok(ResponseBuilder::new().with_status(status).with_headers(map))
}

/// GET /healthz: the worker itself is up (a probe checks the edge, not the model or upstream).
pub fn health() -> Result<Response> {
    let body = Envelope::success(HealthResult::ok()).to_json();
    let headers = [("content-type", "application/json".to_string())];
    Ok(builder(200, &headers)?.fixed(body.into_bytes()))
}
