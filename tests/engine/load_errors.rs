//! A bad checkpoint fails to load with a message naming the file and what is wrong.

use std::collections::HashMap;
use std::sync::Arc;

use burn::tensor::Device;
use hearth::engine::Engine;
use hearth::model::Precision;
use hearth::model::safetensors::{Blob, FileDType, serialize};

use crate::common;

fn load_error(files: &HashMap<String, Blob>) -> String {
    match Engine::load(files, &Device::flex(), Precision::F32) {
        Ok(_) => panic!("a broken checkpoint loaded"),
        Err(e) => e.to_string(),
    }
}

fn replace(files: &mut HashMap<String, Blob>, name: &str, bytes: Vec<u8>) {
    files.insert(name.to_string(), Arc::new(bytes));
}

fn bytes(files: &HashMap<String, Blob>, name: &str) -> Vec<u8> {
    (*files[name]).as_ref().to_vec()
}

/// Rewrites model.safetensors with `edit` applied to its tensors.
fn edit_weights(
    files: &mut HashMap<String, Blob>,
    edit: impl FnOnce(&mut std::collections::BTreeMap<String, (FileDType, Vec<usize>, Vec<u8>)>),
) {
    let parsed = hearth::model::safetensors::SafeTensors::parse(
        "model.safetensors",
        files["model.safetensors"].clone(),
    )
    .unwrap();
    let mut tensors = std::collections::BTreeMap::new();
    for name in parsed.names() {
        let read = parsed.tensor(name).unwrap();
        let raw = read.raw();
        tensors.insert(
            name.to_string(),
            (raw.dtype, raw.shape.to_vec(), raw.bytes.to_vec()),
        );
    }
    edit(&mut tensors);
    replace(files, "model.safetensors", serialize(&tensors));
}

#[test]
fn missing_files_are_named() {
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        let mut files = common::model_files("tiny-gqa-tied");
        files.remove(file);
        let message = load_error(&files);
        assert!(
            message.starts_with(&format!("{file}: not found")),
            "{message}"
        );
    }
}

#[test]
fn unsupported_model_type_lists_the_supported_ones() {
    let mut files = common::model_files("tiny-gqa-tied");
    let config = String::from_utf8(bytes(&files, "config.json")).unwrap();
    replace(
        &mut files,
        "config.json",
        config.replace("\"qwen2\"", "\"gemma3\"").into_bytes(),
    );
    assert_eq!(
        load_error(&files),
        "config.json: model_type \"gemma3\" is not supported (supported: qwen2, qwen3, llama)"
    );
}

#[test]
fn bad_config_values_are_named() {
    let mut files = common::model_files("tiny-gqa-tied");
    let config = String::from_utf8(bytes(&files, "config.json")).unwrap();
    let broken = config.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
    replace(&mut files, "config.json", broken.into_bytes());
    let message = load_error(&files);
    assert!(
        message.contains("config.json") && message.contains("num_key_value_heads"),
        "{message}"
    );

    replace(
        &mut files,
        "config.json",
        b"{\"model_type\": \"qwen2\",}".to_vec(),
    );
    let message = load_error(&files);
    assert!(
        message.starts_with("config.json: invalid JSON"),
        "{message}"
    );
}

#[test]
fn missing_tensor_is_named() {
    let mut files = common::model_files("tiny-gqa-tied");
    edit_weights(&mut files, |t| {
        t.remove("model.layers.1.mlp.up_proj.weight");
    });
    assert_eq!(
        load_error(&files),
        "model.safetensors: tensor model.layers.1.mlp.up_proj.weight is missing"
    );
}

#[test]
fn wrong_shape_names_tensor_and_expected_shape() {
    let mut files = common::model_files("tiny-gqa-tied");
    edit_weights(&mut files, |t| {
        let entry = t.get_mut("model.layers.0.self_attn.k_proj.bias").unwrap();
        entry.1 = vec![16];
        entry.2.truncate(16 * 4);
    });
    assert_eq!(
        load_error(&files),
        "model.safetensors: tensor model.layers.0.self_attn.k_proj.bias has shape [16], expected [32]"
    );
}

#[test]
fn unsupported_dtype_is_named() {
    let mut files = common::model_files("tiny-gqa-tied");
    let weights = bytes(&files, "model.safetensors");
    // Rewrite one header entry's dtype; F32 and I32 have the same size, so offsets stay valid.
    let header_len = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let text = std::str::from_utf8(&weights[8..8 + header_len]).unwrap();
    let entry = text.find("\"model.norm.weight\":").expect("header entry");
    let dtype_at = 8 + entry + text[entry..].find("\"dtype\":\"F32\"").expect("dtype") + 9;
    let mut edited = weights.clone();
    edited[dtype_at..dtype_at + 3].copy_from_slice(b"I32");
    replace(&mut files, "model.safetensors", edited);
    assert_eq!(
        load_error(&files),
        "model.safetensors: tensor model.norm.weight has dtype I32; only F32, F16 and BF16 weights are supported"
    );
}

#[test]
fn truncated_file_is_reported() {
    let mut files = common::model_files("tiny-gqa-tied");
    let mut weights = bytes(&files, "model.safetensors");
    weights.truncate(weights.len() - 1000);
    replace(&mut files, "model.safetensors", weights);
    let message = load_error(&files);
    assert!(
        message.starts_with("model.safetensors: truncated: tensor "),
        "{message}"
    );

    replace(&mut files, "model.safetensors", vec![1, 2, 3]);
    let message = load_error(&files);
    assert!(
        message.starts_with("model.safetensors: not a safetensors file"),
        "{message}"
    );
}

#[test]
fn sharded_checkpoint_loads_and_missing_shard_is_named() {
    let files = common::model_files_with("tiny-gqa-tied", None, 3);
    assert!(files.contains_key("model.safetensors.index.json"));
    assert!(!files.contains_key("model.safetensors"));
    Engine::load(&files, &Device::flex(), Precision::F32).expect("sharded checkpoint loads");

    let mut files = files;
    files.remove("model-00002-of-00003.safetensors");
    assert!(load_error(&files).starts_with("model-00002-of-00003.safetensors: not found"));
}

/// f16 and bf16 on disk load to the same values as f32 on disk, rounded the same way.
#[test]
fn half_precision_weights_cast_to_f32() {
    let device = Device::flex();
    let prompt = [9707u32, 11, 1879];
    let run = |dtype| {
        let files = common::model_files_with("tiny-gqa-tied", Some(dtype), 1);
        let engine = Engine::load(&files, &device, Precision::F32).unwrap();
        let mut cache = engine.model.new_cache(8);
        pollster::block_on(engine.model.forward(&prompt, &mut cache).into_vec()).unwrap()
    };
    let (f32s, f16s, bf16s) = (
        run(FileDType::F32),
        run(FileDType::F16),
        run(FileDType::BF16),
    );
    let diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    // Rounding the weights moves the logits a little, never a lot.
    assert!(diff(&f32s, &f16s) < 1e-2, "f16: {}", diff(&f32s, &f16s));
    assert!(diff(&f32s, &bf16s) < 5e-2, "bf16: {}", diff(&f32s, &bf16s));
    assert!(diff(&f32s, &f16s) > 0.0, "the f16 file was not rounded");
}

#[test]
fn tokenizer_larger_than_vocab_is_refused() {
    let mut files = common::model_files("tiny-gqa-tied");
    let config = String::from_utf8(bytes(&files, "config.json")).unwrap();
    replace(
        &mut files,
        "config.json",
        config.replace("151936", "1000").into_bytes(),
    );
    let message = load_error(&files);
    assert!(
        message.starts_with("tokenizer.json: the tokenizer has"),
        "{message}"
    );
}

/// On a device whose buffers are smaller than one of the layers' matrices, loading names the
/// matrix and both sizes instead of failing inside the GPU runtime.
#[test]
fn tensor_over_the_buffer_limit_is_named() {
    use burn::tensor::DType;
    use hearth::model::{ModelConfig, TensorNetwork, Weights};
    let files = common::model_files("tiny-gqa-tied");
    let config = ModelConfig::from_json((*files["config.json"]).as_ref()).unwrap();
    let weights = Weights::open(&files).unwrap();
    let limit = (config.hidden_size * 4) as u64; // one f32 row of the vocabulary fits
    let error = match TensorNetwork::load_within(
        config,
        &weights,
        &Device::flex(),
        DType::F32,
        Some(limit),
    ) {
        Ok(_) => panic!("a model over the buffer limit loaded"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("model.layers.0.") && error.contains(&format!("limit of {limit} bytes")),
        "{error}"
    );
}
