//! Every case of tests/contract/ against the service: the same checks whatever the transport
//! (this file drives `Service::handle` directly; the server tests drive it over HTTP).

use std::path::Path;
use std::sync::Arc;

use burn::tensor::Device;
use hearth::contract::{DEFAULT_BODY_LIMIT, Incoming};
use hearth::model::Precision;
use hearth::runner::scheduler::SlotOptions;
use hearth::runner::thread::EngineThread;
use hearth::service::{Body, Config, ServedModel, Service};
use serde_json::Value;

use crate::common;

pub const SERVED_ID: &str = "hearth-test/tiny-gqa-tied";
pub const TEST_KEY: &str = "test-key";

/// The service the cases expect: the tied test model, key `test-key`, a 1 MiB body limit.
pub fn test_service() -> Service {
    service_of("tiny-gqa-tied")
}

/// [`test_service`] with `preset`'s model behind the served id.
pub fn service_of(preset: &str) -> Service {
    let engine = common::load(preset, &Device::flex(), Precision::F32);
    let slots = SlotOptions {
        parallel: 2,
        ctx_size: engine.context_length(),
        prefill_chunk: 512,
    };
    let runner = EngineThread::spawn(engine, slots, 8).expect("engine thread");
    Service::new(Config {
        models: vec![ServedModel {
            id: SERVED_ID.into(),
            runner: Arc::new(runner),
        }],
        keys: vec![TEST_KEY.into()],
        body_limit: DEFAULT_BODY_LIMIT,
        clock: Arc::new(|| 1_721_698_948),
        entropy: 7,
    })
}

pub fn cases() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// The request body a case describes.
pub fn body(request: &Value) -> Vec<u8> {
    if let Some(body) = request.get("body") {
        return serde_json::to_vec(body).unwrap();
    }
    if let Some(text) = request.get("body_text") {
        return text.as_str().unwrap().as_bytes().to_vec();
    }
    if let Some(repeat) = request.get("body_repeat") {
        let part = |k: &str| repeat.get(k).and_then(Value::as_str).unwrap_or("");
        let times = repeat["times"].as_u64().unwrap() as usize;
        return [
            part("prefix").to_string(),
            part("text").repeat(times),
            part("suffix").to_string(),
        ]
        .concat()
        .into_bytes();
    }
    Vec::new()
}

pub fn header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["headers"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// Checks one answer against its case; `headers` have lower-case names.
pub fn check(case: &Value, status: u16, headers: &[(String, String)], body: &str) {
    let name = case["name"].as_str().unwrap();
    let expect = &case["expect"];
    assert_eq!(
        status as u64,
        expect["status"].as_u64().unwrap(),
        "{name}: status; body {body}"
    );
    for (key, want) in expect["headers"].as_object().into_iter().flatten() {
        let got = headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        assert!(
            got.is_some_and(|g| g.contains(want.as_str().unwrap())),
            "{name}: header {key} is {got:?}"
        );
    }
    let kind = expect["result"].as_str().unwrap();
    match kind {
        "stream" | "openai_stream" => check_stream(name, expect, kind, body),
        _ => {
            let value =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{name}: {e}: {body}"));
            check_json(name, expect, kind, &value);
            if kind == "completion" {
                // The document's field order (serde_json::Value sorts keys, so read the text).
                let order = [
                    "\"result\":{\"id\":",
                    "\"model\":",
                    "\"answer\":",
                    "\"usage\":",
                    "\"created_at\":",
                ];
                let at: Vec<usize> = order.iter().map(|k| body.find(k).expect(k)).collect();
                assert!(
                    at.windows(2).all(|w| w[0] < w[1]),
                    "{name}: field order: {body}"
                );
            }
        }
    }
}

fn check_json(name: &str, expect: &Value, kind: &str, v: &Value) {
    if let Some(code) = expect.get("code") {
        assert_eq!(&v["code"], code, "{name}: code; body {v}");
    }
    let message = match kind {
        "openai_error" => &v["error"]["message"],
        _ => &v["message"],
    };
    if let Some(part) = expect.get("message_contains").and_then(Value::as_str) {
        assert!(
            message.as_str().unwrap().contains(part),
            "{name}: message {message}"
        );
    }
    match kind {
        "null" => {
            assert!(
                v["result"].is_null() && !message.as_str().unwrap().is_empty(),
                "{name}: {v}"
            )
        }
        "health" => assert_eq!(v["result"]["status"], "ok", "{name}"),
        "models" => assert!(
            v["result"]["models"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == SERVED_ID
                    && m["context_length"] == 2048
                    && m["owned_by"] == "hearth"),
            "{name}: {v}"
        ),
        "openai_error" => {
            for key in ["message", "type", "param", "code"] {
                assert!(
                    v["error"].get(key).is_some(),
                    "{name}: error.{key} missing: {v}"
                );
            }
        }
        "completion" => check_completion(name, expect, &v["result"]),
        "openai" => check_openai(name, expect, v),
        other => panic!("{name}: unknown result kind {other}"),
    }
}

fn check_completion(name: &str, expect: &Value, r: &Value) {
    assert!(!r["id"].as_str().unwrap().is_empty());
    assert_eq!(r["model"], SERVED_ID, "{name}");
    assert!(r["created_at"].is_u64());
    let usage = &r["usage"];
    let (p, c) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    assert!(
        p > 0 && usage["total_tokens"].as_u64() == Some(p + c),
        "{name}: {usage}"
    );
    check_common(
        name,
        expect,
        usage["finish_reason"].as_str().unwrap(),
        c,
        r["answer"].as_str().unwrap(),
    );
    match expect.get("choices").and_then(Value::as_u64) {
        Some(n) => {
            let choices = r["choices"].as_array().unwrap();
            assert_eq!(choices.len() as u64, n, "{name}");
            assert_eq!(choices[0]["answer"], r["answer"], "{name}");
            let sum: u64 = choices
                .iter()
                .map(|c| c["completion_tokens"].as_u64().unwrap())
                .sum();
            assert_eq!(sum, c, "{name}: usage counts all answers");
        }
        None => assert!(r.get("choices").is_none(), "{name}: choices without n > 1"),
    }
}

fn check_openai(name: &str, expect: &Value, v: &Value) {
    assert_eq!(v["object"], "chat.completion", "{name}");
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(
        choices.len() as u64,
        expect.get("choices").and_then(Value::as_u64).unwrap_or(1),
        "{name}"
    );
    let c = v["usage"]["completion_tokens"].as_u64().unwrap();
    let first = &choices[0];
    assert_eq!(first["message"]["role"], "assistant");
    check_common(
        name,
        expect,
        first["finish_reason"].as_str().unwrap(),
        c,
        first["message"]["content"].as_str().unwrap(),
    );
}

fn check_common(
    name: &str,
    expect: &Value,
    finish_reason: &str,
    completion_tokens: u64,
    answer: &str,
) {
    if let Some(want) = expect.get("finish_reason") {
        assert_eq!(
            finish_reason,
            want.as_str().unwrap(),
            "{name}: finish_reason"
        );
    } else {
        assert!(
            ["stop", "length"].contains(&finish_reason),
            "{name}: {finish_reason}"
        );
    }
    if let Some(want) = expect.get("completion_tokens") {
        assert_eq!(
            completion_tokens,
            want.as_u64().unwrap(),
            "{name}: completion_tokens"
        );
    }
    if expect.get("answer_nonempty") == Some(&Value::Bool(true)) {
        assert!(!answer.is_empty(), "{name}: empty answer");
    }
}

fn check_stream(name: &str, expect: &Value, kind: &str, body: &str) {
    let events: Vec<&str> = body
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("{name}: not an SSE event: {e:?}"))
        })
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{name}: ends with [DONE]");
    let events: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let n = expect.get("choices").and_then(Value::as_u64);
    let mut seen = std::collections::BTreeSet::new();
    let mut text = String::new();
    if kind == "stream" {
        let last = events.last().unwrap();
        for e in &events {
            if let Some(code) = expect.get("code") {
                assert_eq!(&e["code"], code, "{name}");
            }
            let r = &e["result"];
            assert_eq!(r["id"], events[0]["result"]["id"], "{name}: one id");
            assert_eq!(
                r.get("index").is_some(),
                n.is_some(),
                "{name}: index iff n > 1: {e}"
            );
            seen.insert(r.get("index").and_then(Value::as_u64).unwrap_or(0));
            if r.get("index").and_then(Value::as_u64).unwrap_or(0) == 0 {
                text += r["delta"].as_str().unwrap();
            }
        }
        let usage = &last["result"]["usage"];
        let c = usage["completion_tokens"].as_u64().unwrap();
        check_common(
            name,
            expect,
            usage["finish_reason"].as_str().unwrap(),
            c,
            &text,
        );
    } else {
        let mut finish = None;
        for e in &events {
            assert_eq!(e["object"], "chat.completion.chunk", "{name}");
            for choice in e["choices"].as_array().unwrap() {
                let index = choice["index"].as_u64().unwrap();
                seen.insert(index);
                if index == 0 {
                    text += choice["delta"]["content"].as_str().unwrap_or("");
                    if let Some(f) = choice["finish_reason"].as_str() {
                        finish = Some(f.to_string());
                    }
                }
            }
        }
        let finish = finish.unwrap_or_else(|| panic!("{name}: no finish chunk"));
        let c = events.last().unwrap()["usage"]["completion_tokens"]
            .as_u64()
            .unwrap_or(0);
        let expect_without_count: Value = {
            let mut e = expect.clone();
            if events.last().unwrap().get("usage").is_none() {
                e.as_object_mut().unwrap().remove("completion_tokens");
            }
            e
        };
        check_common(name, &expect_without_count, &finish, c, &text);
    }
    if let Some(n) = n {
        assert_eq!(seen.len() as u64, n, "{name}: every index appears");
    }
}

/// Every case through `Service::handle`, without a transport, on each family's test model.
#[test]
fn every_contract_case_through_the_service() {
    for preset in ["tiny-gqa-tied", "tiny-qwen3", "tiny-llama"] {
        run_cases(&service_of(preset));
    }
}

fn run_cases(service: &Service) {
    let cases = cases();
    assert!(cases.len() >= 40);
    for case in &cases {
        let request = &case["request"];
        let body = body(request);
        let incoming = Incoming {
            method: request["method"].as_str().unwrap(),
            path: request["path"].as_str().unwrap(),
            authorization: header(request, "authorization"),
            content_type: header(request, "content-type"),
            body: &body,
        };
        let response = pollster::block_on(service.handle(&incoming));
        let text = match response.body {
            Body::Full(text) => text,
            Body::Stream(mut stream) => {
                let mut text = String::new();
                while let Some(chunk) = pollster::block_on(stream.next()) {
                    text += &chunk;
                }
                text
            }
        };
        let headers: Vec<(String, String)> = response
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        check(case, response.status, &headers, &text);
    }
}
