//! The families beside Qwen2: config.json as transformers 4.x and 5.x write it, the chat
//! template wherever the checkpoint keeps it, and Qwen3's thinking kept apart from the answer.

use std::collections::HashMap;

use burn::tensor::Device;
use hearth::engine::Engine;
use hearth::model::safetensors::Blob;
use hearth::model::synthetic::{self, Options};
use hearth::model::{ConfigWriter, Family, ModelConfig, Precision, RopeScaling};
use hearth::text::{Message, ReasoningSplitter};

use crate::common;

fn written(preset: &str, writer: ConfigWriter) -> HashMap<String, Blob> {
    let preset = synthetic::preset(preset).unwrap();
    let options = Options {
        seed: 0,
        dtype: preset.dtype,
        shards: 1,
        writer,
    };
    common::written(&preset, &options)
}

fn load_error(files: &HashMap<String, Blob>) -> String {
    match Engine::load(files, &Device::flex(), Precision::F32) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    }
}

/// Both generations' files describe the same model and answer the same prompt alike.
#[test]
fn transformers_4_and_5_layouts_load_alike() {
    for preset in ["tiny-gqa-tied", "tiny-qwen3", "tiny-llama"] {
        let old = written(preset, ConfigWriter::Transformers4);
        let new = written(preset, ConfigWriter::Transformers5);
        assert!(new.contains_key("chat_template.jinja"), "{preset}");
        let config = |files: &HashMap<String, Blob>| {
            ModelConfig::from_json((*files["config.json"]).as_ref()).unwrap()
        };
        let (a, b) = (config(&old), config(&new));
        assert_eq!(
            ModelConfig {
                torch_dtype: None,
                ..a.clone()
            },
            ModelConfig {
                torch_dtype: None,
                ..b
            },
            "{preset}"
        );
        let engine = |files| Engine::load(files, &Device::flex(), Precision::F32).unwrap();
        let messages = [Message::user("Hello there")];
        let ids = |e: Engine| e.format.prompt_ids(&messages).unwrap();
        assert_eq!(ids(engine(&old)), ids(engine(&new)), "{preset}");
    }
}

#[test]
fn llama_config_reads_its_rope_scaling() {
    let files = written("tiny-llama", ConfigWriter::Transformers5);
    let config = ModelConfig::from_json((*files["config.json"]).as_ref()).unwrap();
    assert_eq!(config.family, Family::Llama);
    assert!(matches!(
        config.rope.scaling,
        RopeScaling::Llama3 {
            original_max_position_embeddings: 8192,
            ..
        }
    ));
    assert!(!config.qkv_bias && !config.tie_word_embeddings);
}

/// Fields transformers 5 writes as `null` take the class default; a wrong value is named.
#[test]
fn nulls_take_defaults_and_wrong_values_are_named() {
    let files = written("tiny-qwen3", ConfigWriter::Transformers5);
    let mut json: serde_json::Value =
        serde_json::from_slice((*files["config.json"]).as_ref()).unwrap();
    json["rms_norm_eps"] = serde_json::Value::Null;
    json["head_dim"] = serde_json::Value::Null;
    let config = ModelConfig::from_json(&serde_json::to_vec(&json).unwrap()).unwrap();
    assert_eq!((config.rms_norm_eps, config.head_dim), (1e-6, 128));

    json["rope_parameters"]["rope_type"] = "yarn".into();
    let message = ModelConfig::from_json(&serde_json::to_vec(&json).unwrap())
        .unwrap_err()
        .to_string();
    assert!(message.contains("\"yarn\" is not supported"), "{message}");
    json["rope_parameters"] = "fast".into();
    let message = ModelConfig::from_json(&serde_json::to_vec(&json).unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "config.json: `rope_parameters` must be an object, found \"fast\""
    );
}

/// Configs saved by transformers itself (tests/reference/save_configs.py) load, both
/// generations giving the same model.
#[test]
fn configs_saved_by_transformers_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/configs");
    let read = |version: &str, name: &str| {
        let path = root.join(version).join(name).join("config.json");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        ModelConfig::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let names = [
        "tiny-qwen2",
        "tiny-qwen3",
        "tiny-llama",
        "qwen2.5-0.5b",
        "qwen3-0.6b",
        "llama-3.2-1b",
    ];
    for name in names {
        let (v4, v5) = (read("transformers-4", name), read("transformers-5", name));
        let strip = |c: ModelConfig| ModelConfig {
            torch_dtype: None,
            ..c
        };
        assert_eq!(strip(v4), strip(v5), "{name}");
    }
    let qwen3 = read("transformers-5", "qwen3-0.6b");
    assert_eq!(
        (qwen3.family, qwen3.head_dim, qwen3.hidden_size),
        (Family::Qwen3, 128, 1024)
    );
    let llama = read("transformers-5", "llama-3.2-1b");
    assert!(matches!(llama.rope.scaling, RopeScaling::Llama3 { .. }));
    assert!(llama.tie_word_embeddings);
    // Each test preset's config is what transformers itself writes for that shape.
    for (name, preset) in [
        ("tiny-qwen2", "tiny-gqa-tied"),
        ("tiny-qwen3", "tiny-qwen3"),
        ("tiny-llama", "tiny-llama"),
    ] {
        let ours = synthetic::preset(preset).unwrap().config;
        for version in ["transformers-4", "transformers-5"] {
            let theirs = read(version, name);
            assert_eq!(
                ModelConfig {
                    torch_dtype: None,
                    ..theirs
                },
                ours,
                "{version}/{name}"
            );
        }
    }
}

/// Only a Qwen model may go without a template (ChatML); any other names what is missing.
#[test]
fn missing_template_falls_back_to_chatml_only_for_qwen() {
    for preset in ["tiny-gqa-tied", "tiny-llama"] {
        let mut files = written(preset, ConfigWriter::Transformers5);
        files.remove("chat_template.jinja");
        match preset {
            "tiny-llama" => {
                let message = load_error(&files);
                assert!(
                    message.contains("chat_template.jinja")
                        && message.contains("tokenizer_config.json"),
                    "{message}"
                );
            }
            _ => {
                let engine = Engine::load(&files, &Device::flex(), Precision::F32).unwrap();
                let text = engine
                    .format
                    .template()
                    .render(&[Message::user("Hi")], true)
                    .unwrap();
                assert_eq!(
                    text,
                    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
                );
            }
        }
    }
}

/// Qwen3's template: `enable_thinking: false` writes the empty think block into the prompt,
/// and a reasoning answer's thinking is split off.
#[test]
fn qwen3_thinking_switch_and_split() {
    let engine = common::load("tiny-qwen3", &Device::flex(), Precision::F32);
    let messages = [Message::user("Hi")];
    let on = engine.format.prompt(&messages, None).unwrap();
    let off = engine.format.prompt(&messages, Some(false)).unwrap();
    assert_eq!(on.reasoning, Some(false));
    let text = engine.format.tokenizer().decode(&off.ids).unwrap();
    assert!(text.ends_with("<think>\n\n</think>\n\n"), "{text:?}");
    assert_eq!(off.ids.len(), on.ids.len() + 4);
    let split = ReasoningSplitter::split(false, "<think>\nhm\n</think>\n\nyes");
    assert_eq!(
        (split.reasoning.as_str(), split.answer.as_str()),
        ("hm", "yes")
    );
    // Qwen2's template has no thinking: nothing is split.
    let qwen2 = common::load("tiny-gqa-tied", &Device::flex(), Precision::F32);
    assert_eq!(
        qwen2.format.prompt(&messages, None).unwrap().reasoning,
        None
    );
}

#[test]
fn wrong_enable_thinking_is_named() {
    let service = crate::contract_cases::service_of("tiny-qwen3");
    let body = br#"{"model": "hearth-test/tiny-gqa-tied", "messages": [{"role": "user", "content": "x"}], "enable_thinking": "yes"}"#;
    let incoming = hearth::contract::Incoming {
        method: "POST",
        path: "/api/v1/chat/completion_messages",
        authorization: Some("Bearer test-key"),
        content_type: Some("application/json"),
        body,
    };
    let response = pollster::block_on(service.handle(&incoming));
    assert_eq!(response.status, 400);
    let hearth::service::Body::Full(text) = response.body else {
        panic!("a JSON error")
    };
    assert!(text.contains("enable_thinking"), "{text}");
}

/// A runner that answers every request with a reasoning model's output, in pieces that cut
/// through the tags, so the service's split is seen in every shape.
struct Thinker(hearth::text::ChatFormat);

const PIECES: [&str; 5] = [
    "<thi",
    "nk>\nFirst I",
    " think.\n</th",
    "ink>\n\nThe ",
    "answer.",
];

impl hearth::runner::Runner for Thinker {
    fn format(&self) -> &hearth::text::ChatFormat {
        &self.0
    }

    fn context_length(&self) -> usize {
        2048
    }

    fn submit(
        &self,
        _: hearth::generate::GenerationRequest,
    ) -> Result<hearth::runner::Job, hearth::contract::ApiError> {
        use hearth::contract::{Answer, FinishReason};
        use hearth::runner::{Job, JobEvent};
        let (tx, job) = Job::channel();
        for text in PIECES {
            tx.try_send(JobEvent::Delta {
                index: 0,
                text: text.into(),
            })
            .unwrap();
        }
        let answer = Answer {
            text: PIECES.concat(),
            reasoning: None,
            tokens: vec![1; 5],
            finish_reason: FinishReason::Stop,
        };
        let finished = hearth::runner::Finished {
            answers: vec![answer],
            cached_tokens: 0,
        };
        tx.try_send(JobEvent::Done(Ok(finished))).unwrap();
        Ok(job)
    }
}

fn ask(service: &hearth::service::Service, path: &str, body: &str) -> String {
    let incoming = hearth::contract::Incoming {
        method: "POST",
        path,
        authorization: None,
        content_type: Some("application/json"),
        body: body.as_bytes(),
    };
    match pollster::block_on(service.handle(&incoming)).body {
        hearth::service::Body::Full(text) => text,
        hearth::service::Body::Stream(mut stream) => {
            let mut text = String::new();
            while let Some(chunk) = pollster::block_on(stream.next()) {
                text += &chunk;
            }
            text
        }
    }
}

/// The thinking never reaches `answer`/`content`, in either dialect, streamed or not.
#[test]
fn reasoning_comes_back_apart_from_the_answer() {
    let engine = common::load("tiny-qwen3", &Device::flex(), Precision::F32);
    let service = hearth::service::Service::new(hearth::service::Config {
        models: vec![hearth::service::ServedModel {
            id: "qwen3".into(),
            runner: std::sync::Arc::new(Thinker(engine.format)),
        }],
        keys: vec![],
        body_limit: 1 << 20,
        clock: std::sync::Arc::new(|| 0),
        entropy: 1,
    });
    let request = |stream: bool| {
        format!(
            r#"{{"model": "qwen3", "messages": [{{"role": "user", "content": "Q"}}], "stream": {stream}}}"#
        )
    };
    let native = "/api/v1/chat/completion_messages";
    let v: serde_json::Value =
        serde_json::from_str(&ask(&service, native, &request(false))).unwrap();
    assert_eq!(v["result"]["answer"], "The answer.");
    assert_eq!(v["result"]["reasoning"], "First I think.");
    let v: serde_json::Value =
        serde_json::from_str(&ask(&service, "/v1/chat/completions", &request(false))).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "The answer.");
    assert_eq!(
        v["choices"][0]["message"]["reasoning_content"],
        "First I think."
    );

    let events = |path: &str| -> Vec<serde_json::Value> {
        ask(&service, path, &request(true))
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|l| *l != "[DONE]")
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (mut reasoning, mut answer) = (String::new(), String::new());
    for e in events(native) {
        reasoning += e["result"]["reasoning_delta"].as_str().unwrap_or("");
        answer += e["result"]["delta"].as_str().unwrap();
    }
    assert_eq!(
        (reasoning.as_str(), answer.as_str()),
        ("First I think.", "The answer.")
    );
    let (mut reasoning, mut answer) = (String::new(), String::new());
    for e in events("/v1/chat/completions") {
        let delta = &e["choices"][0]["delta"];
        reasoning += delta["reasoning_content"].as_str().unwrap_or("");
        answer += delta["content"].as_str().unwrap_or("");
    }
    assert_eq!(
        (reasoning.as_str(), answer.as_str()),
        ("First I think.", "The answer.")
    );
}
