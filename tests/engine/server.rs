//! The hyper server on loopback: every contract case over real HTTP, streaming against the
//! plain answer, and a client that hangs up mid-stream.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::contract_cases::{self, SERVED_ID};
use hearth::native::cors::Cors;
use hearth::native::server::{self, Settings};

/// Starts the server on 127.0.0.1 with the contract cases' service; returns its address.
pub fn start() -> SocketAddr {
    start_with(Duration::from_secs(10))
}

/// [`start`] with `read_timeout` for headers and then the body.
pub fn start_with(read_timeout: Duration) -> SocketAddr {
    start_serving(read_timeout, Cors::default())
}

fn start_serving(read_timeout: Duration, cors: Cors) -> SocketAddr {
    let ready = server::Ready::default();
    let _ = ready.set(Arc::new(contract_cases::test_service()));
    serve_when_ready(ready, read_timeout, cors)
}

/// Serves what `ready` holds (once it does) on a thread of its own; its address.
fn serve_when_ready(ready: server::Ready, read_timeout: Duration, cors: Cors) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let settings = Settings {
                body_limit: hearth::contract::DEFAULT_BODY_LIMIT,
                read_timeout,
                grace: Duration::from_secs(1),
                max_connections: 4096,
                cors,
            };
            server::serve_when_ready(ready, listener, settings, std::future::pending())
                .await
                .unwrap();
        });
    });
    rx.recv().unwrap()
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A completion_messages request with the test key, plain or streamed.
async fn complete(addr: SocketAddr, stream: bool) -> Answer {
    let path = "/api/v1/chat/completion_messages";
    send(addr, "POST", path, &[AUTH], completion(stream)).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn every_contract_case_over_http() {
    let addr = start();
    let runtime = runtime();
    for case in contract_cases::cases() {
        let request = &case["request"];
        let headers: Vec<(&str, &str)> = request["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        let method = request["method"].as_str().unwrap();
        let path = request["path"].as_str().unwrap();
        let answer = runtime.block_on(send(
            addr,
            method,
            path,
            &headers,
            contract_cases::body(request),
        ));
        contract_cases::check(&case, answer.status, &answer.headers, &answer.body);
    }
}

fn completion(stream: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": SERVED_ID,
        "messages": [{"role": "user", "content": "Tell me a story."}],
        "temperature": 0.9, "seed": 11, "max_tokens": 24, "stream": stream,
    }))
    .unwrap()
}

const AUTH: (&str, &str) = ("authorization", "Bearer test-key");

/// The streamed deltas concatenate to the plain answer for the same seed; the last event
/// carries usage; `[DONE]` ends it.
#[test]
fn stream_concatenates_to_the_plain_answer() {
    let addr = start();
    let runtime = runtime();
    let path = "/api/v1/chat/completion_messages";
    let plain = runtime.block_on(send(addr, "POST", path, &[AUTH], completion(false)));
    let plain: Value = serde_json::from_str(&plain.body).unwrap();
    let streamed = runtime.block_on(send(addr, "POST", path, &[AUTH], completion(true)));
    let events: Vec<&str> = streamed
        .body
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    let events: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    let text: String = events
        .iter()
        .map(|e| e["result"]["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, plain["result"]["answer"].as_str().unwrap());
    // The same prompt again finds all but its last token in the prompt cache.
    let mut usage = events.last().unwrap()["result"]["usage"].clone();
    let prompt_tokens = usage["prompt_tokens"].as_u64().unwrap();
    assert_eq!(usage["cached_tokens"], prompt_tokens - 1);
    usage.as_object_mut().unwrap().remove("cached_tokens");
    assert_eq!(usage, plain["result"]["usage"]);
    assert!(events.len() > 2, "the answer arrives in pieces");
}

/// A client that hangs up mid-stream frees the engine: the next request is answered.
#[test]
fn hanging_up_cancels_the_generation() {
    let addr = start();
    let runtime = runtime();
    runtime.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = serde_json::to_vec(&json!({
            "model": SERVED_ID, "stream": true, "temperature": 0,
            "messages": [{"role": "user", "content": "Go on forever."}],
        }))
        .unwrap();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /api/v1/chat/completion_messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer test-key\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        let mut first = [0u8; 256];
        let n = stream.read(&mut first).await.unwrap();
        assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
        drop(stream);
        // Without cancellation this would wait behind ~2000 tokens of the abandoned answer.
        let started = std::time::Instant::now();
        let plain = complete(addr, false).await;
        assert_eq!(plain.status, 200);
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    });
}

/// `--api-key ''` (or an empty entry in HEARTH_API_KEYS) is refused before anything loads,
/// rather than read as no key and served openly.
#[test]
fn an_empty_api_key_is_refused() {
    for (args, env) in [
        (vec!["--api-key", ""], None),
        (vec![], Some("key-one,,key-two")),
        (vec![], Some("key-one, ")),
    ] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"));
        command
            .args([
                "serve",
                "--backend",
                "cpu",
                "--port",
                "0",
                "--model-dir",
                "/nonexistent",
            ])
            .args(&args)
            .env_remove("HEARTH_API_KEYS");
        if let Some(keys) = env {
            command.env("HEARTH_API_KEYS", keys);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} {env:?}: {stderr}");
        assert!(
            stderr.contains("an API key is empty"),
            "{args:?} {env:?}: {stderr}"
        );
    }
}

/// Sends `head` (and then `body`, if any) on a raw connection and returns what the server
/// answers before it closes, or within `wait`.
async fn raw(addr: SocketAddr, head: &str, body: &[u8], wait: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(wait, stream.read(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

const CM_HEAD: &str = "POST /api/v1/chat/completion_messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n";

/// A body that stops arriving gets 408/40800 once the read timeout passes; one that breaks
/// (a malformed chunk) gets 400/40003 saying so; neither is mistaken for bad JSON.
#[test]
fn a_slow_or_broken_body_is_named_for_what_it_is() {
    let addr = start_with(Duration::from_secs(1));
    runtime().block_on(async {
        let head =
            format!("{CM_HEAD}authorization: Bearer test-key\r\ncontent-length: 100\r\n\r\n");
        let slow = raw(addr, &head, b"{\"model\":", Duration::from_secs(5)).await;
        assert!(slow.starts_with("HTTP/1.1 408"), "{slow}");
        assert!(
            slow.contains("40800") && slow.contains("within 1 s"),
            "{slow}"
        );
        let head = format!(
            "{CM_HEAD}authorization: Bearer test-key\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let broken = raw(addr, &head, b"zz\r\n{}\r\n", Duration::from_secs(5)).await;
        assert!(broken.starts_with("HTTP/1.1 400"), "{broken}");
        assert!(
            broken.contains("40003") && broken.contains("could not be read"),
            "{broken}"
        );
    });
}

/// Without a valid key the answer is 401 at once, without waiting for a body that never comes.
#[test]
fn the_key_is_checked_before_the_body() {
    let addr = start();
    runtime().block_on(async {
        let head = format!("{CM_HEAD}content-length: 100\r\n\r\n");
        let started = std::time::Instant::now();
        let refused = raw(addr, &head, b"", Duration::from_secs(5)).await;
        assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    });
}

/// While the model loads the port is open: /healthz (and everything else) answers 503/50300
/// "loading" with a Retry-After; once the service is in place, 200.
#[test]
fn healthz_says_loading_until_the_model_is_ready() {
    let ready = server::Ready::default();
    let addr = serve_when_ready(ready.clone(), Duration::from_secs(10), Cors::default());
    runtime().block_on(async {
        let loading = send(addr, "GET", "/healthz", &[], vec![]).await;
        assert_eq!(loading.status, 503, "{}", loading.body);
        let body: Value = serde_json::from_str(&loading.body).unwrap();
        assert_eq!(body["code"], 50300);
        assert!(
            body["message"].as_str().unwrap().starts_with("loading"),
            "{body}"
        );
        assert!(loading.headers.iter().any(|(k, _)| k == "retry-after"));
        let _ = ready.set(Arc::new(contract_cases::test_service()));
        let ok = send(addr, "GET", "/healthz", &[], vec![]).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
    });
}

/// `GET /metrics` (with the key) in Prometheus' text format: requests by status, tokens,
/// the slots, and the streams' latencies.
#[test]
fn metrics_count_what_was_served() {
    let addr = start();
    runtime().block_on(async {
        let refused = send(addr, "GET", "/metrics", &[], vec![]).await;
        assert_eq!(refused.status, 401);
        let plain = complete(addr, false).await;
        assert_eq!(plain.status, 200, "{}", plain.body);
        let streamed = complete(addr, true).await;
        assert_eq!(streamed.status, 200, "{}", streamed.body);
        let metrics = send(addr, "GET", "/metrics", &[AUTH], vec![]).await;
        assert_eq!(metrics.status, 200);
        let text = metrics.body;
        let value = |name: &str| -> f64 {
            let line = text
                .lines()
                .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
                .unwrap_or_else(|| panic!("no {name} in\n{text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert!(value("hearth_requests_total{status=\"200\"}") >= 2.0);
        assert!(value("hearth_requests_total{status=\"401\"}") >= 1.0);
        assert!(value("hearth_prompt_tokens_total") > 0.0);
        assert!(value("hearth_completion_tokens_total") > 0.0);
        assert!(value("hearth_time_to_first_token_seconds_count") >= 1.0);
        assert!(value("hearth_inter_token_seconds_count") >= 1.0);
        assert_eq!(
            value(&format!("hearth_slots{{model=\"{SERVED_ID}\"}}")),
            2.0
        );
        assert!(text.contains("# TYPE hearth_time_to_first_token_seconds histogram"));
    });
}

/// A client that sends its headers a byte at a time is cut off by the header timeout, and
/// meanwhile others are served.
#[test]
fn headers_sent_a_byte_at_a_time_are_cut_off() {
    let addr = start_with(Duration::from_secs(1));
    runtime().block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        let trickle = tokio::spawn(async move {
            let started = std::time::Instant::now();
            for byte in CM_HEAD.bytes().cycle() {
                if slow.write_all(&[byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                if started.elapsed() > Duration::from_secs(10) {
                    break;
                }
            }
            // Closed by the server: reading ends (a 408 or nothing), long before 10 s.
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(2), slow.read_to_end(&mut rest)).await;
            started.elapsed()
        });
        let other = complete(addr, false).await;
        assert_eq!(other.status, 200, "{}", other.body);
        let held = trickle.await.unwrap();
        assert!(
            held < Duration::from_secs(5),
            "the slow client was held {held:?}"
        );
    });
}

/// `--cors-origin`: a listed page's preflight is answered 204 without a key, its answers
/// (errors included) carry its own origin; another page's preflight is an ordinary 405,
/// and `*` is never turned into a reflected origin with credentials.
#[test]
fn cors_answers_listed_pages_only() {
    let page = "https://chat.example.com";
    let addr = start_serving(
        Duration::from_secs(10),
        Cors::new(&[page.to_string()]).unwrap(),
    );
    let header = |answer: &Answer, name: &str| {
        answer
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let path = "/api/v1/chat/completion_messages";
    runtime().block_on(async {
        let preflight = [
            ("origin", page),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ];
        let answer = send(addr, "OPTIONS", path, &preflight, vec![]).await;
        assert_eq!(answer.status, 204, "{}", answer.body);
        assert_eq!(
            header(&answer, "access-control-allow-origin").as_deref(),
            Some(page)
        );
        assert_eq!(
            header(&answer, "access-control-allow-methods").as_deref(),
            Some("POST")
        );
        let allowed = header(&answer, "access-control-allow-headers").unwrap();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert_eq!(header(&answer, "access-control-allow-credentials"), None);

        let answer = send(
            addr,
            "POST",
            path,
            &[AUTH, ("origin", page)],
            completion(false),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(
            header(&answer, "access-control-allow-origin").as_deref(),
            Some(page)
        );
        assert_eq!(header(&answer, "vary").as_deref(), Some("origin"));
        let answer = send(addr, "POST", path, &[("origin", page)], completion(false)).await;
        assert_eq!(answer.status, 401);
        assert_eq!(
            header(&answer, "access-control-allow-origin").as_deref(),
            Some(page)
        );

        let stranger = [
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ];
        let answer = send(addr, "OPTIONS", path, &stranger, vec![]).await;
        assert_eq!(answer.status, 405, "{}", answer.body);
        assert_eq!(header(&answer, "access-control-allow-origin"), None);
        let answer = send(addr, "POST", path, &[AUTH, stranger[0]], completion(false)).await;
        assert_eq!(answer.status, 200);
        assert_eq!(header(&answer, "access-control-allow-origin"), None);
    });

    let addr = start_serving(Duration::from_secs(10), Cors::new(&["*".into()]).unwrap());
    runtime().block_on(async {
        let answer = send(
            addr,
            "POST",
            path,
            &[AUTH, ("origin", "https://evil.example")],
            completion(false),
        )
        .await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            header(&answer, "access-control-allow-origin").as_deref(),
            Some("*")
        );
        assert_eq!(header(&answer, "access-control-allow-credentials"), None);
        assert_eq!(header(&answer, "vary"), None);
    });
}
