//! Checks tests/contract/*.json: the format, and that each case's expected status and
//! code are what this module decides (routing, keys, Content-Type, size, JSON, fields,
//! model), so the shared cases and the shared code cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::contract::{Admitted, DEFAULT_BODY_LIMIT, ERROR_TABLE, Incoming, Policy, admit};

/// `tests/contract` of the repository, found from this file's path (`file!()` is
/// relative to the package root, or absolute when the module is included by path).
fn dir() -> PathBuf {
    let here = Path::new(file!());
    let here = if here.is_absolute() {
        here.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(here)
    };
    here.ancestors().nth(4).unwrap().join("tests/contract")
}
const MODEL: &str = "hearth-test/tiny-gqa-tied";
const RESULTS: &[&str] = &[
    "completion",
    "null",
    "models",
    "stream",
    "health",
    "openai",
    "openai_stream",
    "openai_error",
];

struct Case {
    file: String,
    v: Value,
}

fn load() -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| Case {
            file: p.file_name().unwrap().to_string_lossy().into_owned(),
            v: serde_json::from_slice(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        })
        .collect();
    cases.sort_by(|a, b| a.file.cmp(&b.file));
    cases
}

fn obj<'a>(v: &'a Value, key: &str, file: &str) -> &'a Map<String, Value> {
    v[key]
        .as_object()
        .unwrap_or_else(|| panic!("{file}: {key} must be an object"))
}

fn keys_within(m: &Map<String, Value>, allowed: &[&str], file: &str, what: &str) {
    for k in m.keys() {
        assert!(
            allowed.contains(&k.as_str()),
            "{file}: unknown key {what}.{k}"
        );
    }
}

fn body_bytes(r: &Map<String, Value>, file: &str) -> Vec<u8> {
    let given = ["body", "body_text", "body_repeat"]
        .iter()
        .filter(|k| r.contains_key(**k))
        .count();
    assert!(
        given <= 1,
        "{file}: at most one of body, body_text, body_repeat"
    );
    if let Some(b) = r.get("body") {
        return serde_json::to_vec(b).unwrap();
    }
    if let Some(t) = r.get("body_text") {
        return t
            .as_str()
            .unwrap_or_else(|| panic!("{file}: body_text must be a string"))
            .into();
    }
    if let Some(rep) = r.get("body_repeat") {
        let rep = rep.as_object().unwrap();
        keys_within(
            rep,
            &["text", "times", "prefix", "suffix"],
            file,
            "body_repeat",
        );
        let s = |k: &str| rep.get(k).map_or("", |v| v.as_str().unwrap());
        let times = rep["times"].as_u64().unwrap() as usize;
        return format!("{}{}{}", s("prefix"), s("text").repeat(times), s("suffix")).into_bytes();
    }
    Vec::new()
}

#[test]
fn every_case_is_well_formed_and_agrees_with_the_module() {
    let cases = load();
    assert!(cases.len() >= 45, "{} cases", cases.len());
    let keys = vec!["test-key".to_string()];
    let served = vec![MODEL.to_string()];
    let policy = Policy {
        keys: &keys,
        body_limit: DEFAULT_BODY_LIMIT,
        served: &served,
    };
    let mut names = BTreeSet::new();
    let mut codes = BTreeSet::new();
    let mut by_result: BTreeMap<String, usize> = BTreeMap::new();

    for Case { file, v } in &cases {
        let top = v.as_object().unwrap();
        keys_within(top, &["name", "about", "request", "expect"], file, "");
        let name = v["name"].as_str().unwrap();
        assert_eq!(format!("{name}.json"), *file, "file name is the case name");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
        assert!(names.insert(name.to_string()), "{file}: duplicate name");
        assert!(!v["about"].as_str().unwrap().is_empty());

        let r = obj(v, "request", file);
        keys_within(
            r,
            &[
                "method",
                "path",
                "headers",
                "body",
                "body_text",
                "body_repeat",
            ],
            file,
            "request",
        );
        let method = r["method"].as_str().unwrap();
        let path = r["path"].as_str().unwrap();
        assert!(path.starts_with('/'));
        let headers = obj(&v["request"], "headers", file);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str().unwrap())
        };
        let body = body_bytes(r, file);

        let e = obj(v, "expect", file);
        keys_within(
            e,
            &[
                "status",
                "code",
                "headers",
                "message_contains",
                "result",
                "finish_reason",
                "choices",
                "completion_tokens",
                "answer_nonempty",
            ],
            file,
            "expect",
        );
        let status = e["status"].as_u64().unwrap() as u16;
        let result = e["result"].as_str().unwrap();
        assert!(RESULTS.contains(&result), "{file}: result {result}");
        *by_result.entry(result.to_string()).or_default() += 1;
        let code = e.get("code").map(|c| c.as_u64().unwrap() as u32);
        // Envelope shapes carry a code; OpenAI shapes do not.
        assert_eq!(
            code.is_some(),
            !result.starts_with("openai"),
            "{file}: code presence"
        );
        if let Some(h) = e.get("headers") {
            for k in h.as_object().unwrap().keys() {
                assert_eq!(
                    *k,
                    k.to_ascii_lowercase(),
                    "{file}: expect.headers names are lower-case"
                );
            }
        }
        if let Some(f) = e.get("finish_reason") {
            assert!(["stop", "length"].contains(&f.as_str().unwrap()));
        }
        let is_error = result == "null" || result == "openai_error";
        assert_eq!(
            is_error,
            status != 200,
            "{file}: error results go with error statuses"
        );

        let incoming = Incoming {
            method,
            path,
            authorization: header("authorization"),
            content_type: header("content-type"),
            body: &body,
        };
        match admit(&incoming, &policy) {
            Err(err) => {
                assert_eq!(status, err.status, "{file}: status ({err})");
                if let Some(c) = code {
                    assert_eq!(c, err.code, "{file}: code ({err})");
                }
                codes.insert(err.code);
                if let Some(m) = e.get("message_contains") {
                    let m = m.as_str().unwrap();
                    assert!(
                        err.message.contains(m),
                        "{file}: {:?} not in {:?}",
                        m,
                        err.message
                    );
                }
                if let Some(allow) = e.get("headers").and_then(|h| h.get("allow")) {
                    assert_eq!(err.allow, allow.as_str(), "{file}: allow");
                }
                assert_eq!(
                    result == "openai_error",
                    path.starts_with("/v1/"),
                    "{file}: error shape"
                );
            }
            Ok(admitted) => {
                if status == 400 {
                    // Only the context check, which needs the tokenizer, is left.
                    assert_eq!(code, Some(40002), "{file}");
                    assert!(
                        body.len() > 4 * 2048,
                        "{file}: a body that cannot fit 2048 tokens"
                    );
                    codes.insert(40002);
                    continue;
                }
                assert_eq!(status, 200, "{file}");
                check_success(file, e, result, &admitted);
            }
        }
    }
    // Every CONTRACT.md row a request can trigger is covered (50300 and 50000 need a full
    // queue or a fault; 50200 and 50400 an upstream; 40003 and 40800 a transport that reads a
    // broken or slow body, tested over HTTP in tests/engine/server.rs).
    for row in ERROR_TABLE {
        if ![50300, 50000, 50200, 50400, 40003, 40800].contains(&row.code) {
            assert!(
                codes.contains(&row.code),
                "no case for {} ({})",
                row.code,
                row.name
            );
        }
    }
    for r in RESULTS {
        assert!(by_result.contains_key(*r), "no case with result {r}");
    }
    eprintln!("{} cases: {by_result:?}", cases.len());
}

fn check_success(file: &str, e: &Map<String, Value>, result: &str, admitted: &Admitted) {
    let choices = e.get("choices").map(|c| c.as_u64().unwrap() as u32);
    let request = match admitted {
        Admitted::Completion { request, .. } => {
            let want = if request.stream {
                "stream"
            } else {
                "completion"
            };
            assert_eq!(result, want, "{file}");
            request
        }
        Admitted::ChatCompletion { request, .. } => {
            let want = if request.request.stream {
                "openai_stream"
            } else {
                "openai"
            };
            assert_eq!(result, want, "{file}");
            &request.request
        }
        Admitted::Models => return assert_eq!(result, "models", "{file}"),
        Admitted::Health => return assert_eq!(result, "health", "{file}"),
    };
    if let Some(c) = choices {
        assert_eq!(c, request.n, "{file}: choices is n");
        assert!(c > 1, "{file}: choices only with n > 1");
    }
    // Exact token counts and finish reasons only where they are deterministic: greedy
    // decoding and a max_tokens that ends the answer.
    if let Some(t) = e.get("completion_tokens") {
        assert_eq!(
            request.temperature, 0.0,
            "{file}: exact counts need greedy decoding"
        );
        let max = request.max_tokens.expect("exact counts need max_tokens");
        assert_eq!(
            t.as_u64().unwrap() as u32,
            max * request.n,
            "{file}: completion_tokens"
        );
    }
    if e.get("finish_reason").is_some() {
        assert_eq!(request.temperature, 0.0, "{file}");
        assert_eq!(e["finish_reason"], "length", "{file}");
    }
    // Keep generation short for the browser runtime: at most 100 tokens per answer.
    assert!(
        request.max_tokens.is_some_and(|m| m <= 100),
        "{file}: set a small max_tokens"
    );
}
