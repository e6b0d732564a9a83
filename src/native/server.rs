//! The HTTP transport: hyper 1.x on tokio, one task per connection, everything else is
//! `Service::handle`. A client that disconnects drops its response body, which drops the
//! job and cancels the generation.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming as HyperBody};
use hyper::header::{
    ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, CONTENT_TYPE, HeaderValue, ORIGIN,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::cors::Cors;
use super::metrics::Metrics;
use crate::contract::{ApiError, Incoming, Received, error_body};
use crate::service::{Body, Service, TokenCounts};

type ResponseBody = BoxBody<Bytes, Infallible>;

/// How long a stream may stay silent before a keep-alive comment goes out.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
const KEEP_ALIVE_COMMENT: &str = ": keep-alive\n\n";

pub struct Settings {
    pub body_limit: usize,
    /// How long a client may take to send its headers, and then its body.
    pub read_timeout: Duration,
    /// How long in-flight requests may run on after a shutdown signal.
    pub grace: Duration,
    /// Connections open at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Which browser pages may call.
    pub cors: Cors,
}

/// The service once the model has loaded. Until then every request is answered 503/50300
/// "loading", so the port opens at once and a health check can tell.
pub type Ready = Arc<OnceLock<Arc<Service>>>;

/// Prometheus' scrape path, answered here rather than by the service: only the server
/// keeps the figures.
const METRICS_PATH: &str = "/metrics";

/// How long a client turned away for too many connections should wait, in seconds.
const RETRY_CONNECTION_S: u32 = 1;

/// How long a client told "loading" should wait before asking again, in seconds.
const LOADING_RETRY_S: u32 = 2;

/// Serves `service` until `shutdown` resolves ([`serve_when_ready`]).
pub async fn serve(
    service: Arc<Service>,
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_when_ready(
        Arc::new(OnceLock::from(service)),
        listener,
        settings,
        shutdown,
    )
    .await
}

/// Serves what `ready` holds (503 "loading" while it holds nothing) until `shutdown`
/// resolves, then stops accepting and gives in-flight requests `settings.grace` to finish.
pub async fn serve_when_ready(
    ready: Ready,
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let grace = settings.grace;
    let shared = Arc::new(Shared {
        ready,
        settings,
        metrics: Metrics::default(),
    });
    let graceful = GracefulShutdown::new();
    let open = Arc::new(tokio::sync::Semaphore::new(shared.settings.max_connections));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (mut stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: the listener itself is fine.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = stream.write_all(&too_many_connections()).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let header_timeout = shared.settings.read_timeout;
        let shared = shared.clone();
        let handler = service_fn(move |req| respond(shared.clone(), req, peer));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), handler);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over: cancelling what is still running");
    }
    Ok(())
}

/// The whole answer to a connection over `--max-connections`: 503/50300, then closed.
fn too_many_connections() -> Vec<u8> {
    let mut e = ApiError::busy(RETRY_CONNECTION_S);
    e.message = "too many connections are open; retry shortly".into();
    let body = error_body("/", &e);
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {RETRY_CONNECTION_S}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What every connection's requests share.
struct Shared {
    ready: Ready,
    settings: Settings,
    metrics: Metrics,
}

/// Answers one request, with the CORS headers its origin gets.
async fn respond(
    shared: Arc<Shared>,
    req: Request<HyperBody>,
    peer: SocketAddr,
) -> Result<Response<ResponseBody>, Infallible> {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let origin = header(ORIGIN).map(str::to_string);
    let cors = &shared.settings.cors;
    if let Some(headers) = cors.preflight(
        req.method().as_str(),
        req.uri().path(),
        origin.as_deref(),
        header(ACCESS_CONTROL_REQUEST_METHOD),
    ) {
        shared.metrics.answered(204);
        let mut response = Response::new(Full::new(Bytes::new()).boxed());
        *response.status_mut() = StatusCode::NO_CONTENT;
        response.headers_mut().extend(headers);
        return Ok(response);
    }
    let Ok(mut response) = answer(shared.clone(), req, peer).await;
    response
        .headers_mut()
        .extend(cors.headers(origin.as_deref()));
    Ok(response)
}

async fn answer(
    shared: Arc<Shared>,
    req: Request<HyperBody>,
    peer: SocketAddr,
) -> Result<Response<ResponseBody>, Infallible> {
    let started = Instant::now();
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let settings = &shared.settings;
    let error = |e: &ApiError| {
        shared.metrics.answered(e.status);
        Ok(error(&path, e, started, &method, peer))
    };
    let Some(service) = shared.ready.get().cloned() else {
        return error(&ApiError::loading(LOADING_RETRY_S));
    };
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let (authorization, content_type) = (header(AUTHORIZATION), header(CONTENT_TYPE));
    if path == METRICS_PATH && method == "GET" {
        if let Err(e) = service.authorize(authorization.as_deref()) {
            return error(&e);
        }
        shared.metrics.answered(200);
        let text = shared.metrics.render(&service.loads());
        let response = Response::builder()
            .header(CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(Full::new(Bytes::from(text)).boxed())
            .expect("valid response parts");
        return Ok(response);
    }
    let head = Incoming {
        method: &method,
        path: &path,
        authorization: authorization.as_deref(),
        content_type: content_type.as_deref(),
        body: &[],
    };
    // Route and key first: a stranger's slow or broken body is never waited on.
    let read = match service.admit_head(&head) {
        Ok(()) => tokio::time::timeout(
            settings.read_timeout,
            read_body(req.into_body(), settings.body_limit),
        )
        .await
        .unwrap_or_else(|_| Err(ApiError::request_timeout(settings.read_timeout.as_secs()))),
        Err(e) => Err(e),
    };
    let body = match read {
        Ok(body) => body,
        Err(e) => return error(&e),
    };
    let received = Received {
        method,
        path,
        authorization,
        content_type,
        body,
    };
    let response = service.handle(&received.incoming()).await;
    shared.metrics.answered(response.status);
    let log = RequestLog {
        method: received.method,
        path: received.path,
        status: response.status,
        started,
        shared: shared.clone(),
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
                let mut last = None;
                loop {
                    // A comment now and then while nothing comes (the request waits for a
                    // slot), so proxies keep the connection; a client that hangs up meanwhile
                    // is noticed at once. `next` is cancel-safe: it only awaits the job's
                    // channel.
                    let chunk = tokio::select! {
                        chunk = events.next() => chunk,
                        () = tx.closed() => None,
                        () = tokio::time::sleep(KEEP_ALIVE) => Some(KEEP_ALIVE_COMMENT.into()),
                    };
                    let Some(chunk) = chunk else {
                        break;
                    };
                    if chunk != KEEP_ALIVE_COMMENT {
                        let metrics = &log.shared.metrics;
                        match last.replace(Instant::now()) {
                            None => metrics.first_token(started.elapsed()),
                            Some(t) => metrics.inter_token(t.elapsed()),
                        }
                    }
                    // The client went away: dropping `events` cancels the generation.
                    if tx.send(Ok(Frame::data(Bytes::from(chunk)))).await.is_err() {
                        break;
                    }
                }
                let end = if tx.is_closed() {
                    "client gone"
                } else {
                    "done"
                };
                log.finish(events.tokens(), end);
            });
            StreamBody::new(tokio_stream_of(rx)).boxed()
        }
    };
    Ok(builder.body(body).expect("valid response parts"))
}

/// One line per request, written when its answer has been sent: never the key or the prompt.
/// Its tokens go to the metrics.
struct RequestLog {
    method: String,
    path: String,
    status: u16,
    started: Instant,
    shared: Arc<Shared>,
}

impl RequestLog {
    fn finish(self, tokens: Option<TokenCounts>, end: &str) {
        let ms = self.started.elapsed().as_millis() as u64;
        let (method, path, status) = (self.method, self.path, self.status);
        match tokens {
            Some(t) => {
                self.shared.metrics.tokens(t);
                tracing::info!(%method, %path, status, prompt_tokens = t.prompt, cached_tokens = t.cached, completion_tokens = t.completion, ms, end, "request")
            }
            None => tracing::info!(%method, %path, status, ms, end, "request"),
        }
    }
}

/// Reads at most `limit + 1` bytes: one byte over is enough for the service to answer 413,
/// in the contract's order of checks (a wrong path or key is reported first).
async fn read_body(mut body: HyperBody, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while bytes.len() <= limit {
        match body.frame().await {
            Some(frame) => {
                if let Some(data) = frame.map_err(ApiError::broken_body)?.data_ref() {
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
