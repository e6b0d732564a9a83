//! The reference harness shared by the flex and wgpu parity tests: logits of the prefill and
//! of 16 decode steps, and 32 greedy tokens, against what transformers computed
//! (tests/reference/make_golden.py → tests/golden/<preset>.json).

use burn::tensor::{DType, Device};
use hearth::model::gpu::GpuNetwork;
use hearth::model::{Logits, Network, Precision, TensorNetwork, Weights};
use hearth::text::Message;

use crate::common;

pub fn read_row(logits: Logits) -> Vec<f32> {
    pollster::block_on(logits.into_vec()).expect("logits")
}

/// The conversation make_golden.py renders.
pub fn golden_conversation() -> Vec<Message> {
    vec![
        Message {
            role: "system".into(),
            content: "You are a helpful assistant.".into(),
        },
        Message {
            role: "user".into(),
            content: "Give me three facts about the moon, briefly. 🌙".into(),
        },
    ]
}

/// Checks one preset on `device`; returns the largest logit error seen.
pub fn check(preset: &str, device: &Device, tolerance: f64) -> f64 {
    check_within(preset, device, tolerance, None)
}

/// [`check`] with every weight in buffers of at most `max_buffer_bytes` (the vocabulary
/// matrices split into row blocks).
pub fn check_within(
    preset: &str,
    device: &Device,
    tolerance: f64,
    max_buffer_bytes: Option<u64>,
) -> f64 {
    let golden = common::golden(&format!("{preset}.json"));
    let files = common::model_files(preset);
    let weights = files.get("model.safetensors").expect("weights");
    assert_eq!(
        common::sha256((**weights).as_ref()),
        golden["safetensors_sha256"].as_str().unwrap(),
        "{preset}: the test model's weights are not the ones the golden file was made from"
    );
    let mut engine = hearth::engine::Engine::load(&files, device, Precision::F32).expect("loads");
    if let Some(limit) = max_buffer_bytes {
        // Vocabulary matrices split to fit the buffers: hearth's GPU network on a GPU, the
        // tensor network elsewhere.
        let weights = Weights::open(&files).expect("weights");
        let config = engine.model.config().clone();
        engine.model = match hearth::backend::gpu_of(device) {
            Some(gpu) => Network::Gpu(
                GpuNetwork::load(config, &weights, gpu.limited(limit), Precision::F32)
                    .expect("loads within the limit"),
            ),
            None => Network::Tensors(
                TensorNetwork::load_within(config, &weights, device, DType::F32, Some(limit))
                    .expect("loads within the limit"),
            ),
        };
    }
    let prompt = engine
        .format
        .prompt_ids(&golden_conversation())
        .expect("template");
    let expected: Vec<u32> = serde_json::from_value(golden["prompt_ids"].clone()).unwrap();
    assert_eq!(prompt, expected, "{preset}: prompt ids");

    let mut cache = engine.model.new_cache(prompt.len() + 40);
    let mut worst = 0.0f64;
    let row = read_row(engine.model.forward(&prompt, &mut cache));
    let err = common::row_error(&row, &golden["prefill"]);
    assert!(err <= tolerance, "{preset}: prefill logits differ by {err}");
    worst = worst.max(err);
    for (step, entry) in golden["decode"].as_array().unwrap().iter().enumerate() {
        let id = entry["input_id"].as_u64().unwrap() as u32;
        let row = read_row(engine.model.forward(&[id], &mut cache));
        let err = common::row_error(&row, &entry["logits"]);
        assert!(
            err <= tolerance,
            "{preset}: decode step {step} logits differ by {err}"
        );
        worst = worst.max(err);
    }

    let expected: Vec<u32> = serde_json::from_value(golden["greedy_ids"].clone()).unwrap();
    let mut cache = engine.model.new_cache(prompt.len() + expected.len());
    let mut logits = engine.model.forward(&prompt, &mut cache);
    let mut greedy = Vec::new();
    while greedy.len() < expected.len() {
        let id = common::argmax(&read_row(logits));
        greedy.push(id);
        logits = engine.model.forward(&[id], &mut cache);
    }
    assert_eq!(greedy, expected, "{preset}: greedy ids");
    eprintln!(
        "{preset} on {device:?} within {max_buffer_bytes:?} bytes: max logit error {worst:.3e}"
    );
    worst
}

/// The prefill logit error of `preset` run in `dtype`.
pub fn prefill_error(preset: &str, device: &Device, precision: Precision) -> f64 {
    let golden = common::golden(&format!("{preset}.json"));
    let engine = hearth::engine::Engine::load(&common::model_files(preset), device, precision)
        .expect("loads");
    let prompt: Vec<u32> = serde_json::from_value(golden["prompt_ids"].clone()).unwrap();
    let mut cache = engine.model.new_cache(prompt.len());
    common::row_error(
        &read_row(engine.model.forward(&prompt, &mut cache)),
        &golden["prefill"],
    )
}
