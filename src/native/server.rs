//! The HTTP transport: hyper 1.x on tokio, one task per connection, everything else is
//! `Service::handle`. A client that disconnects drops its response body, which drops the
//! job and cancels the generation.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming as HyperBody};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::contract::{ApiError, Received, error_body};
use crate::service::{Body, Service, TokenCounts};

type ResponseBody = BoxBody<Bytes, Infallible>;

pub struct Limits {
    pub body_limit: usize,
    /// How long a client may take to send its headers, and then its body.
    pub read_timeout: Duration,
    /// How long in-flight requests may run on after a shutdown signal.
    pub grace: Duration,
}

/// Serves until `shutdown` resolves, then stops accepting and gives in-flight requests
/// `limits.grace` to finish before returning.
pub async fn serve(
    service: Arc<Service>,
    listener: TcpListener,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = Arc::new(limits);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => break,
        };
        let header_timeout = limits.read_timeout;
        let (service, limits) = (service.clone(), limits.clone());
        let handler = service_fn(move |req| respond(service.clone(), limits.clone(), req, peer));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), handler);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(limits.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over: cancelling what is still running");
    }
    Ok(())
}

async fn respond(
    service: Arc<Service>,
    limits: Arc<Limits>,
    req: Request<HyperBody>,
    peer: SocketAddr,
) -> Result<Response<ResponseBody>, Infallible> {
    let started = Instant::now();
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let (authorization, content_type) = (header(AUTHORIZATION), header(CONTENT_TYPE));
    let body = match tokio::time::timeout(
        limits.read_timeout,
        read_body(req.into_body(), limits.body_limit),
    )
    .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            return Ok(error(
                &path,
                &ApiError::bad_json(format!("reading the body: {e}")),
                started,
                &method,
                peer,
            ));
        }
        Err(_) => {
            return Ok(error(
                &path,
                &ApiError::bad_json("the request body did not arrive in time"),
                started,
                &method,
                peer,
            ));
        }
    };
    let received = Received {
        method,
        path,
        authorization,
        content_type,
        body,
    };
    let response = service.handle(&received.incoming()).await;
    let log = RequestLog {
        method: received.method,
        path: received.path,
        status: response.status,
        started,
    };
    let mut builder = Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(*name, value);
    }
    let body = match response.body {
        Body::Full(text) => {
            log.finish(response.tokens, "done");
            Full::new(Bytes::from(text)).boxed()
        }
        Body::Stream(mut events) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(16);
            tokio::spawn(async move {
                while let Some(chunk) = events.next().await {
                    // The client went away: dropping `events` cancels the generation.
                    if tx.send(Ok(Frame::data(Bytes::from(chunk)))).await.is_err() {
                        return log.finish(events.tokens(), "client gone");
                    }
                }
                log.finish(events.tokens(), "done");
            });
            StreamBody::new(tokio_stream_of(rx)).boxed()
        }
    };
    Ok(builder.body(body).expect("valid response parts"))
}

/// One line per request, written when its answer has been sent: never the key or the prompt.
struct RequestLog {
    method: String,
    path: String,
    status: u16,
    started: Instant,
}

impl RequestLog {
    fn finish(self, tokens: Option<TokenCounts>, end: &str) {
        let ms = self.started.elapsed().as_millis() as u64;
        let (method, path, status) = (self.method, self.path, self.status);
        match tokens {
            Some(t) => {
                tracing::info!(%method, %path, status, prompt_tokens = t.prompt, completion_tokens = t.completion, ms, end, "request")
            }
            None => tracing::info!(%method, %path, status, ms, end, "request"),
        }
    }
}

/// Reads at most `limit + 1` bytes: one byte over is enough for the service to answer 413,
/// in the contract's order of checks (a wrong path or key is reported first).
async fn read_body(mut body: HyperBody, limit: usize) -> Result<Vec<u8>, hyper::Error> {
    let mut bytes = Vec::new();
    while bytes.len() <= limit {
        match body.frame().await {
            Some(frame) => {
                if let Some(data) = frame?.data_ref() {
                    bytes.extend_from_slice(data);
                }
            }
            None => break,
        }
    }
    Ok(bytes)
}

fn tokio_stream_of<T>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_core::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn error(
    path: &str,
    e: &ApiError,
    started: Instant,
    method: &str,
    peer: SocketAddr,
) -> Response<ResponseBody> {
    tracing::info!(%method, %path, status = e.status, ms = started.elapsed().as_millis() as u64, %peer, "request");
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(e.status).expect("valid status"))
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in e.headers() {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(error_body(path, e))).boxed())
        .expect("valid response parts")
}
