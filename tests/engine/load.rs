//! A bounded load test of the real `hearth serve` process on loopback: 200 requests from 32
//! concurrent clients on the tiny model. Every request must end with 200 or 503 (none lost,
//! none hanging), the server's memory afterwards must be within 10% of before, and a client
//! that hangs up mid-answer must free its slot. Clients wait out Retry-After after a 503.
//! Prints requests/s, p50/p99 and peak RSS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common;
use crate::served::{Server, dechunk, request_bytes};

const REQUESTS: usize = 200;
const CLIENTS: usize = 32;
/// Longer than any answer here takes; a request still open then counts as hung.
const HANG: Duration = Duration::from_secs(120);

fn body(i: usize, stream: bool, max_tokens: usize, temperature: f32) -> String {
    serde_json::json!({
        "model": "tiny",
        "messages": [{"role": "user", "content": format!("Request {i}: tell me a story.")}],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "seed": i,
        "stream": stream,
    })
    .to_string()
}

/// Sends one request and reads the whole answer; returns the status.
fn send(addr: SocketAddr, i: usize) -> u16 {
    let stream_it = i.is_multiple_of(4);
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(HANG)).unwrap();
    socket
        .write_all(&request_bytes(addr, &body(i, stream_it, 8 + i % 9, 0.0)))
        .unwrap();
    let mut answer = String::new();
    socket
        .read_to_string(&mut answer)
        .unwrap_or_else(|e| panic!("request {i} hung or broke: {e}"));
    let status: u16 = answer[9..12].parse().unwrap();
    let (head, payload) = answer.split_once("\r\n\r\n").unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let payload = if chunked {
        dechunk(payload)
    } else {
        payload.to_string()
    };
    match status {
        200 if stream_it => assert!(payload.ends_with("data: [DONE]\n\n"), "{payload}"),
        200 => assert!(payload.contains("\"code\":0"), "{payload}"),
        503 => assert!(
            payload.contains("50300") && head.to_ascii_lowercase().contains("retry-after: 1"),
            "{answer}"
        ),
        other => panic!("request {i}: status {other}: {answer}"),
    }
    status
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn two_hundred_requests_from_32_clients() {
    let model = common::tiny_model_dir("load-model");
    let server = Server::start(&model, 4, 16);
    let addr = server.addr;
    // Warm up every thread the server will use, so "before" is its steady state.
    std::thread::scope(|s| {
        for i in 0..8 {
            s.spawn(move || send(addr, 10_000 + i));
        }
    });
    let (before, _) = server.rss();

    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(REQUESTS));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= REQUESTS {
                        break;
                    }
                    let t = Instant::now();
                    let status = send(addr, i);
                    results.lock().unwrap().push((status, t.elapsed()));
                    if status == 503 {
                        // As a polite client does: wait the Retry-After (1 s).
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            });
        }
    });
    let wall = started.elapsed();
    let results = results.into_inner().unwrap();
    let (after, peak) = server.rss();

    assert_eq!(results.len(), REQUESTS, "every request got an answer");
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let busy = results.iter().filter(|(s, _)| *s == 503).count();
    assert_eq!(ok + busy, REQUESTS);
    assert!(ok > 0);
    let mut served: Vec<Duration> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, d)| *d)
        .collect();
    served.sort();
    println!(
        "load: {REQUESTS} requests, {CLIENTS} clients, {:.1} s: {ok} x 200, {busy} x 503; {:.1} requests/s, {:.1} answers/s; answered p50 {} ms, p99 {} ms; RSS before {} MiB, after {} MiB, peak {} MiB",
        wall.as_secs_f64(),
        REQUESTS as f64 / wall.as_secs_f64(),
        ok as f64 / wall.as_secs_f64(),
        percentile(&served, 0.5).as_millis(),
        percentile(&served, 0.99).as_millis(),
        before / 1024,
        after / 1024,
        peak / 1024,
    );
    let growth = after as f64 / before as f64 - 1.0;
    assert!(
        growth.abs() <= 0.10,
        "RSS went from {before} KiB to {after} KiB ({:+.1}%)",
        growth * 100.0
    );
}

#[test]
fn a_client_hanging_up_frees_its_slot() {
    let model = common::tiny_model_dir("hangup-model");
    // One slot and no waiting room: while one answer runs, everyone else gets 503.
    let server = Server::start(&model, 1, 0);
    let addr = server.addr;
    // A long sampled answer (thousands of tokens: many seconds), read until it is running.
    let mut long = TcpStream::connect(addr).unwrap();
    long.write_all(&request_bytes(addr, &body(1, true, 2000, 1.0)))
        .unwrap();
    let mut reader = BufReader::new(long.try_clone().unwrap());
    let mut line = String::new();
    while !line.starts_with("data: ") {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the stream ended early"
        );
    }
    assert_eq!(send(addr, 2), 503, "the running answer holds the only slot");

    let hung_up = Instant::now();
    drop(reader);
    long.shutdown(std::net::Shutdown::Both).unwrap();
    drop(long);
    // The slot comes free long before the abandoned answer could have finished.
    loop {
        if send(addr, 3) == 200 {
            break;
        }
        assert!(
            hung_up.elapsed() < Duration::from_secs(3),
            "the abandoned answer still holds the slot"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "slot free {} ms after the hang-up",
        hung_up.elapsed().as_millis()
    );
}

/// SIGTERM while 32 clients stream: no new connection is taken, every answer in flight ends
/// with its final event and `[DONE]` (or was never started: refused with 503), and the
/// process exits 0 within the grace period.
#[test]
fn sigterm_under_32_streams_finishes_them_and_exits_0() {
    let model = common::tiny_model_dir("sigterm-model");
    let mut server = Server::start(&model, 4, 32);
    let addr = server.addr;
    let finished = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let clients: Vec<_> = (0..32)
            .map(|i| {
                let finished = &finished;
                s.spawn(move || {
                    let mut socket = TcpStream::connect(addr).unwrap();
                    socket.set_read_timeout(Some(HANG)).unwrap();
                    socket
                        .write_all(&request_bytes(addr, &body(20_000 + i, true, 48, 0.0)))
                        .unwrap();
                    let mut answer = String::new();
                    socket
                        .read_to_string(&mut answer)
                        .unwrap_or_else(|e| panic!("stream {i} hung or broke: {e}"));
                    match &answer[9..12] {
                        "200" => {
                            let (_, payload) = answer.split_once("\r\n\r\n").unwrap();
                            let payload = dechunk(payload);
                            assert!(payload.contains("\"usage\""), "stream {i}: {payload}");
                            assert!(
                                payload.ends_with("data: [DONE]\n\n"),
                                "stream {i}: {payload}"
                            );
                            finished.fetch_add(1, Ordering::Relaxed);
                        }
                        "503" => {}
                        other => panic!("stream {i}: status {other}: {answer}"),
                    }
                })
            })
            .collect();
        // Every client has been taken in and the first answers are streaming.
        std::thread::sleep(Duration::from_millis(300));
        let pid = server.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let stopped = Instant::now();
        let status = loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                stopped.elapsed() < Duration::from_secs(15),
                "still running after the grace period"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "exit {status}");
        for client in clients {
            client.join().unwrap();
        }
    });
    let finished = finished.into_inner();
    println!("sigterm: {finished} of 32 streams finished after SIGTERM");
    assert!(finished > 0);
}

/// 1,000 idle keep-alive connections do not stop the server answering; past
/// `--max-connections` a new connection gets 503/50300 at once, and is let in again when an
/// idle one closes.
#[test]
fn idle_connections_are_held_up_to_the_limit() {
    let model = common::tiny_model_dir("connections-model");
    let server = Server::start_with(&model, &["--max-connections", "1001"], &[]);
    let addr = server.addr;
    let mut idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    assert_eq!(send(addr, 1), 200, "served beside 1,000 idle connections");
    // The limit is reached: one more idle connection, then a request is turned away.
    idle.push(TcpStream::connect(addr).unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let mut refused = TcpStream::connect(addr).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    refused.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 503") && answer.contains("50300"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    drop(idle.pop());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(send(addr, 2), 200, "served once an idle connection closed");
}
