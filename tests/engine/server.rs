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
use hearth::native::server::{self, Limits};

/// Starts the server on 127.0.0.1 with the contract cases' service; returns its address.
pub fn start() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let limits = Limits {
                body_limit: hearth::contract::DEFAULT_BODY_LIMIT,
                read_timeout: Duration::from_secs(10),
                grace: Duration::from_secs(1),
            };
            let service = Arc::new(contract_cases::test_service());
            server::serve(service, listener, limits, std::future::pending())
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
    assert_eq!(
        events.last().unwrap()["result"]["usage"],
        plain["result"]["usage"]
    );
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
        let plain = send(addr, "POST", "/api/v1/chat/completion_messages", &[AUTH], completion(false)).await;
        assert_eq!(plain.status, 200);
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    });
}
