//! Faults around a running `hearth serve`: its checkpoint changed on disk under it, and its
//! API keys looked for in everything it writes and answers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::common;
use crate::served::{KEY, Server, request_bytes};

/// Sends `request` on a fresh connection and reads the whole answer.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.write_all(request).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    answer
}

fn greedy(addr: SocketAddr) -> String {
    let body = r#"{"model":"tiny","messages":[{"role":"user","content":"Say something."}],"max_tokens":12,"temperature":0}"#;
    let answer = exchange(addr, &request_bytes(addr, body));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, json) = answer.split_once("\r\n\r\n").unwrap();
    let json: serde_json::Value = serde_json::from_str(json).unwrap();
    json["result"]["answer"].as_str().unwrap().to_string()
}

/// The weights are read into memory at load, not mapped: a checkpoint truncated, then
/// rewritten with other bytes while being served changes no answer and crashes nothing
/// (a map would fault with SIGBUS on the first token after the truncation).
#[test]
fn a_checkpoint_truncated_while_served_changes_nothing() {
    let model = common::tiny_model_dir("truncated-model");
    let server = Server::start_with(&model, &["--dtype", "f32"], &[]);
    let before = greedy(server.addr);
    let weights = model.join("model.safetensors");
    let len = std::fs::metadata(&weights).unwrap().len();
    std::fs::File::create(&weights).unwrap();
    assert_eq!(greedy(server.addr), before, "after truncation");
    std::fs::write(&weights, vec![0x5a; len as usize]).unwrap();
    assert_eq!(greedy(server.addr), before, "after rewriting");
    drop(server);
}

/// Neither a configured key nor a wrong one shows in the log (at trace level), an answer's
/// headers or body, an error or /metrics.
#[test]
fn keys_never_appear_in_logs_answers_or_metrics() {
    let model = common::tiny_model_dir("secret-model");
    let other = "sk-second-key-9d41c2";
    let server = Server::start_with(&model, &["--api-key", other], &[("RUST_LOG", "trace")]);
    let addr = server.addr;
    let wrong = format!("{KEY}x");
    let mut answers = vec![greedy(addr)];
    let body = r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true}"#;
    for authorization in [
        format!("Bearer {wrong}"),
        format!("Basic {KEY}"),
        format!("Bearer {KEY} {KEY}"),
        format!("Bearer {other}"),
    ] {
        let request = format!(
            "POST /api/v1/chat/completion_messages?key={KEY} HTTP/1.1\r\nhost: x\r\nauthorization: {authorization}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        answers.push(exchange(addr, request.as_bytes()));
    }
    for path in ["/metrics", "/api/v1/models", "/nowhere", "/healthz"] {
        let request = format!(
            "GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\nconnection: close\r\n\r\n"
        );
        answers.push(exchange(addr, request.as_bytes()));
    }
    assert!(
        answers[5].contains("hearth_requests_total"),
        "{}",
        answers[5]
    );
    // A startup that fails, with the keys given.
    let failed = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--backend", "cpu", "--port", "0", "--api-key", KEY])
        .args(["--model-dir", "/nonexistent"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    answers.push(String::from_utf8_lossy(&failed.stderr).into_owned());
    answers.push(String::from_utf8_lossy(&failed.stdout).into_owned());
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "{log}");
    answers.push(log);
    for (i, text) in answers.iter().enumerate() {
        for secret in [KEY, other, wrong.as_str()] {
            assert!(
                !text.contains(secret),
                "output {i} shows {secret:?}: {text}"
            );
        }
    }
}
