//! `hearth chat`: two turns typed on stdin, each answer streamed to stdout; at temperature 0
//! the first is the greedy answer the engine gives for the same conversation.

use std::io::Write;
use std::process::{Command, Stdio};

use burn::tensor::Device;
use hearth::engine::Engine;
use hearth::generate::{GenerationRequest, SamplingParams, generate};
use hearth::model::Precision;
use hearth::native::files::DirSource;
use hearth::text::Message;

use crate::common;

#[test]
fn chat_streams_each_turn_and_answers_greedily_at_temperature_0() {
    let dir = common::tiny_model_dir("chat-model");

    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args([
            "chat",
            "--backend",
            "cpu",
            "--temperature",
            "0",
            "--max-tokens",
            "8",
        ])
        .arg("--model-dir")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Hello there\nAnd once more\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr.matches("(cut at 8 tokens)").count(), 2, "{stderr}");

    let engine = Engine::load(&DirSource::new(&dir), &Device::flex(), Precision::F32).unwrap();
    let request = GenerationRequest {
        prompt_ids: engine
            .format
            .prompt_ids(&[Message::new("user", "Hello there")])
            .unwrap(),
        max_tokens: 8,
        n: 1,
        sampling: SamplingParams {
            temperature: 0.0,
            ..SamplingParams::default()
        },
        stop: vec![],
        cancel: Default::default(),
    };
    let expected = pollster::block_on(generate(&engine.model, &engine.format, &request, |_, _| {
        true
    }))
    .unwrap()
    .remove(0)
    .text;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with(&format!("{expected}\n")),
        "{stdout:?} should open with {expected:?}"
    );
    assert!(stdout.len() > expected.len() + 1, "a second answer follows");
}
