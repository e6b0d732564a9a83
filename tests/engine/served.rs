//! A real `hearth serve` process on loopback, for the tests that need the whole program:
//! its signals, its memory, its log.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The key every served process accepts.
pub const KEY: &str = "sk-hearth-test-5e1f0c";

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything it wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(model: &Path, parallel: usize, max_queue: usize) -> Self {
        let (parallel, max_queue) = (parallel.to_string(), max_queue.to_string());
        Self::start_with(
            model,
            &["--parallel", &parallel, "--max-queue", &max_queue],
            &[],
        )
    }

    /// Serves `model` with `options` and `env` besides the key and the CPU backend; returns
    /// once it says it is serving.
    pub fn start_with(model: &Path, options: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args([
                "serve",
                "--backend",
                "cpu",
                "--port",
                "0",
                "--api-key",
                KEY,
                "--model-id",
                "tiny",
            ])
            .arg("--model-dir")
            .arg(model)
            .args(options)
            .env("RUST_LOG", "warn,hearth=info")
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("the server started").unwrap();
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(rest) = line.split("serving on http://").nth(1) {
                break rest.split('/').next().unwrap().parse().unwrap();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Self { child, addr, log }
    }

    /// (current, peak) resident memory in KiB.
    pub fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap()
                .parse()
                .unwrap()
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A completion_messages request with the key, closing the connection after the answer.
pub fn request_bytes(addr: SocketAddr, body: &str) -> Vec<u8> {
    format!(
        "POST /api/v1/chat/completion_messages HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The body of a `transfer-encoding: chunked` answer (a stream's).
pub fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}
