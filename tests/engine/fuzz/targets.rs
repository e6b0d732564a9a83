//! The fuzz targets: what a stranger or a downloaded file can hand hearth.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use burn::tensor::Device;
use hearth::contract::{self, ErrorKind, Incoming, Policy};
use hearth::engine::Engine;
use hearth::model::safetensors::Blob;
use hearth::model::{ModelConfig, Network, Precision, SINGLE_FILE, Weights};
use hearth::text::{ChatTemplate, Message, TokenizerConfig};

use super::{Verdict, corpus, fuzz, fuzz_with, signature};
use crate::contract_cases;

const JSON_WORDS: &[&[u8]] = &[
    b"\"model\":",
    b"\"messages\":",
    b"\"role\":",
    b"\"content\":",
    b"\"stream\":true",
    b"\"n\":8",
    b"\"stop\":[\"",
    b"\"max_tokens\":",
    b"\"temperature\":",
    b"\"top_p\":",
    b"\"seed\":18446744073709551615",
    b"\"type\":\"text\"",
    b"\"text\":",
    b"null",
    b"true",
    b"1e308",
    b"-0",
    b"0.5",
    b"[[[[[[[[",
    b"{\"a\":{\"a\":",
    b"\"\\ud800\"",
    b"\"\\u0000\"",
    b"\xf0\x9f\x98\x80",
    b"\xc3",
    b"\"stream_options\":{\"include_usage\":true}",
    b"\"enable_thinking\":false",
    b"\"presence_penalty\":-2",
];

/// The contract's request rules, on both endpoints: every rejection is a row of the error
/// table, and its body is JSON.
#[test]
fn fuzz_request() {
    let mut seeds: Vec<Vec<u8>> = contract_cases::cases()
        .iter()
        .map(|case| contract_cases::body(&case["request"]))
        .collect();
    seeds.extend(corpus("request"));
    let served = [contract_cases::SERVED_ID.to_string()];
    let policy = Policy {
        keys: &[],
        body_limit: contract::DEFAULT_BODY_LIMIT,
        served: &served,
    };
    fuzz("request", seeds, JSON_WORDS, |body| {
        let mut outcome = String::new();
        for path in ["/api/v1/chat/completion_messages", "/v1/chat/completions"] {
            let request = Incoming {
                method: "POST",
                path,
                authorization: None,
                content_type: Some("application/json"),
                body,
            };
            match contract::admit(&request, &policy) {
                Ok(_) => outcome.push_str("ok;"),
                Err(e) => {
                    if ErrorKind::from_code(e.code).is_none_or(|k| k.row().status != e.status) {
                        return Err(format!(
                            "{path}: {} {} is not in the table",
                            e.status, e.code
                        ));
                    }
                    let body = contract::error_body(path, &e);
                    serde_json::from_str::<serde_json::Value>(&body)
                        .map_err(|j| format!("{path}: error body is not JSON ({j}): {body}"))?;
                    outcome.push_str(&signature(&e.message));
                }
            }
        }
        Ok(outcome)
    });
}

/// config.json as transformers 4.x and 5.x write it, mutated: read, or refused naming it.
#[test]
fn fuzz_config() {
    let seeds = reference_files("config.json");
    fuzz(
        "config",
        seeds,
        JSON_WORDS,
        |bytes| match ModelConfig::from_json(bytes) {
            Ok(config) => Ok(format!("ok {:?}", config.family)),
            Err(e) => named(&e.to_string(), "config.json"),
        },
    );
}

/// A safetensors file (the `safetensors` package's writer) loaded as the weights of a tiny
/// Qwen2: header, offsets, dtypes, shapes, through to the CPU network.
#[test]
fn fuzz_safetensors() {
    let config = ModelConfig::from_json(TINY_CONFIG.as_bytes()).expect("the tiny config");
    fuzz("safetensors", corpus("safetensors"), JSON_WORDS, |bytes| {
        let files: HashMap<String, Blob> =
            [(SINGLE_FILE.to_string(), Arc::new(bytes.to_vec()) as Blob)].into();
        let loaded = Weights::open(&files).and_then(|weights| {
            Network::load(config.clone(), &weights, &Device::flex(), Precision::F32)
        });
        match loaded {
            Ok(_) => Ok("loaded".into()),
            Err(e) => named(&e.to_string(), SINGLE_FILE),
        }
    });
}

/// A GGUF file (gguf-py's writer) loaded whole: header, metadata, tokenizer, chat template,
/// tensors, the network.
#[test]
fn fuzz_gguf() {
    let words: &[&[u8]] = &[
        b"general.architecture",
        b"qwen2.",
        b"tokenizer.ggml.",
        b"GGUF",
        b"\x03\x00\x00\x00",
    ];
    fuzz("gguf", corpus("gguf"), words, |bytes| {
        let blob: Blob = Arc::new(bytes.to_vec());
        match Engine::load_gguf(
            "fuzz.gguf",
            blob,
            &Device::flex(),
            None,
            Box::new(|_, _| {}),
        ) {
            Ok(_) => Ok("loaded".into()),
            Err(e) => named(&e.to_string(), "fuzz.gguf"),
        }
    });
}

const TEMPLATE_WORDS: &[&[u8]] = &[
    b"{%",
    b"%}",
    b"{{",
    b"}}",
    b"{% for m in messages %}",
    b"{% endfor %}",
    b"{% if ",
    b"{% endif %}",
    b"{% set ns = namespace(x=0) %}",
    b"ns.x",
    b"loop.index",
    b"|tojson",
    b"|length",
    b"range(",
    b"{% macro f(n) %}",
    b"{% endmacro %}",
    b"f(",
    b"raise_exception(",
    b".split(",
    b"~",
    b" + ",
    b"message['content']",
    b"add_generation_prompt",
    b"strftime_now(",
    b"{#",
    b"#}",
    b"{%-",
    b"-%}",
];

/// tokenizer_config.json (transformers' own, Qwen's and Llama 3's) read, and its chat
/// template compiled and rendered over a conversation.
#[test]
fn fuzz_tokenizer_config() {
    let mut words = JSON_WORDS.to_vec();
    words.extend_from_slice(TEMPLATE_WORDS);
    fuzz(
        "tokenizer_config",
        reference_files("tokenizer_config.json"),
        &words,
        |bytes| match TokenizerConfig::from_bytes(bytes) {
            Ok(config) => match config.chat_template {
                Some(source) => render(&source, config.bos_token, config.eos_token),
                None => Ok("no template".into()),
            },
            Err(e) => named(&e.to_string(), "tokenizer_config.json"),
        },
    );
}

/// Chat templates as source text, compiled and rendered: fuel, the output limit and the
/// Python methods stand between them and the process.
#[test]
fn fuzz_chat_template() {
    let mut seeds = reference_files("chat_template.jinja");
    for config in reference_files("tokenizer_config.json") {
        if let Some(source) = TokenizerConfig::from_bytes(&config).unwrap().chat_template {
            seeds.push(source.into_bytes());
        }
    }
    seeds.push(ChatTemplate::chatml().source().as_bytes().to_vec());
    fuzz("chat_template", seeds, TEMPLATE_WORDS, |bytes| {
        render(
            &String::from_utf8_lossy(bytes),
            Some("<s>".into()),
            Some("</s>".into()),
        )
    });
}

fn render(source: &str, bos: Option<String>, eos: Option<String>) -> Verdict {
    let conversation = [
        Message::system("Be brief."),
        Message::user("Hi {{ there }} <|im_end|>"),
        Message::assistant("<think>hm</think>Hello."),
        Message::user("And?"),
    ];
    match ChatTemplate::new(source, bos, eos).and_then(|t| t.render(&conversation, true)) {
        Ok(text) => Ok(format!("rendered {}", text.len().min(64))),
        Err(e) => Ok(signature(&e.to_string())),
    }
}

/// Panics anywhere in the process while the HTTP target runs (the server's tasks catch
/// their own, so the hook is where they show).
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Raw bytes to the hyper server: every answer is HTTP/1.1 with a status, an error body of
/// the contract's shape, a stream of well-formed events; no task panics, and the server
/// still answers a good request afterwards.
#[test]
fn fuzz_http() {
    // Input cut short waits for the rest only this long.
    let addr = crate::server::start_with(Duration::from_millis(300));
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info
            .location()
            .is_some_and(|l| l.file().contains("tests/engine"))
        {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        previous(info);
    }));
    let words: &[&[u8]] = &[
        b"\r\n",
        b"content-length: ",
        b"transfer-encoding: chunked\r\n",
        b"0\r\n\r\n",
        b"authorization: Bearer test-key\r\n",
        b"content-type: application/json\r\n",
        b"connection: keep-alive\r\n",
        b"expect: 100-continue\r\n",
        b"GET /healthz HTTP/1.1\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\n",
        b"\"stream\":true",
        b"HTTP/1.0",
        b"\x00",
    ];
    let exchange = |input: &[u8]| -> Verdict {
        let mut socket = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let _ = socket.write_all(input);
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer);
        check_answer(&String::from_utf8_lossy(&answer))
    };
    fuzz_with("http", corpus("http"), words, 10, exchange);
    let good = &corpus("http")[0];
    assert!(
        exchange(good).unwrap().starts_with("200"),
        "the server stopped answering"
    );
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "a task panicked (see the log above)"
    );
}

/// The first answer on a connection, checked; its status and kind as the outcome.
fn check_answer(answer: &str) -> Verdict {
    if answer.is_empty() {
        return Ok("closed".into());
    }
    let Some((head, body)) = answer.split_once("\r\n\r\n") else {
        return Err(format!("no end of headers: {answer:?}"));
    };
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("not an HTTP/1.1 status line: {head:?}"))?;
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|l| l.trim().parse::<usize>().ok());
    if lower.contains("transfer-encoding: chunked") {
        for line in dechunk(body).lines().filter(|l| !l.is_empty()) {
            let data = match line.strip_prefix("data: ") {
                Some(data) => data,
                None if line.starts_with(':') => continue,
                None => return Err(format!("not an event line: {line:?}")),
            };
            if data != "[DONE]" {
                serde_json::from_str::<serde_json::Value>(data)
                    .map_err(|e| format!("event is not JSON ({e}): {data}"))?;
            }
        }
        return Ok(format!("{status} stream"));
    }
    match length {
        Some(n) if n > 0 && lower.contains("content-type: application/json") => {
            let json: serde_json::Value = serde_json::from_str(body.get(..n).unwrap_or(body))
                .map_err(|e| format!("{status} body is not JSON ({e}): {body}"))?;
            let code = json["code"]
                .as_u64()
                .or(json["error"]["code"].as_str().and_then(|c| c.parse().ok()));
            if status != "200"
                && code.is_none_or(|c| ErrorKind::from_code(c as u32).is_none())
                && json["error"].is_null()
            {
                return Err(format!(
                    "{status} body is not an error of the contract: {body}"
                ));
            }
            Ok(format!("{status} json"))
        }
        _ => Ok(format!(
            "{status} {}",
            if length == Some(0) { "empty" } else { "other" }
        )),
    }
}

/// A chunked body's data, as far as it arrived.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after.get(size + 2..).unwrap_or("");
    }
    body
}

/// A refusal that names `file`, as a person fixing a model directory needs.
fn named(message: &str, file: &str) -> Verdict {
    if message.contains(file) {
        Ok(signature(message))
    } else {
        Err(format!("the message does not name {file}: {message}"))
    }
}

/// Every file called `name` under tests/reference/configs (transformers 4.x and 5.x).
fn reference_files(name: &str) -> Vec<Vec<u8>> {
    fn walk(dir: &Path, name: &str, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, name, out);
            } else if path.file_name().is_some_and(|f| f == name) {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/configs"),
        name,
        &mut paths,
    );
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// The shape of tests/fuzz/corpus/safetensors/qwen2-tiny.safetensors (make_seeds.py).
const TINY_CONFIG: &str = r#"{"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"vocab_size":16,"max_position_embeddings":64,"rms_norm_eps":1e-6,"rope_theta":1000000.0,"tie_word_embeddings":true,"torch_dtype":"float32"}"#;
