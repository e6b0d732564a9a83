//! Test checkpoints: complete Hugging Face Qwen2 directories with seeded random weights, at
//! tiny sizes for tests and at the real Qwen2 shapes for benchmarks. Same seed, same bytes.

use std::collections::BTreeMap;

use burn::tensor::{bf16, f16};

use super::Qwen2Config;
use super::safetensors::{FileDType, serialize};
use super::weights::{INDEX_FILE, SINGLE_FILE};
use crate::generate::rng::Rng;

/// Qwen2-Instruct's chat template, as its tokenizer_config.json ships it.
pub const QWEN2_CHAT_TEMPLATE: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// The real tokenizer's vocabulary, padded as Qwen2's embedding is.
const QWEN2_VOCAB: usize = 151936;

/// A named model shape and the dtype its weights are stored in.
pub struct Preset {
    pub name: &'static str,
    pub about: &'static str,
    pub config: Qwen2Config,
    pub dtype: FileDType,
}

fn qwen2(
    (hidden, intermediate, layers): (usize, usize, usize),
    (heads, kv_heads): (usize, usize),
    tied: bool,
    (context, rope_theta, eps): (usize, f64, f64),
) -> Qwen2Config {
    Qwen2Config {
        model_type: "qwen2".into(),
        vocab_size: QWEN2_VOCAB,
        hidden_size: hidden,
        intermediate_size: intermediate,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: kv_heads,
        max_position_embeddings: context,
        rope_theta,
        rms_norm_eps: eps,
        tie_word_embeddings: tied,
        torch_dtype: None,
    }
}

pub fn presets() -> Vec<Preset> {
    vec![
        Preset {
            name: "tiny-gqa-tied",
            about: "2 layers, 4 query / 2 key-value heads, tied embedding, f32 (~40 MB)",
            config: qwen2((64, 160, 2), (4, 2), true, (2048, 1e6, 1e-6)),
            dtype: FileDType::F32,
        },
        Preset {
            name: "tiny-mqa-untied",
            about: "3 layers, 4 query / 1 key-value head, separate lm_head, bf16 (~40 MB)",
            config: qwen2((64, 128, 3), (4, 1), false, (2048, 1e4, 1e-5)),
            dtype: FileDType::BF16,
        },
        Preset {
            name: "qwen2-0.5b",
            about: "the shape of Qwen2-0.5B, bf16 (~1 GB)",
            config: qwen2((896, 4864, 24), (14, 2), true, (32768, 1e6, 1e-6)),
            dtype: FileDType::BF16,
        },
        Preset {
            name: "qwen2-1.5b",
            about: "the shape of Qwen2-1.5B, bf16 (~3 GB)",
            config: qwen2((1536, 8960, 28), (12, 2), true, (32768, 1e6, 1e-6)),
            dtype: FileDType::BF16,
        },
    ]
}

pub fn preset(name: &str) -> Option<Preset> {
    presets().into_iter().find(|p| p.name == name)
}

/// Every tensor of the checkpoint with its shape, in the checkpoint's names.
pub fn tensor_shapes(c: &Qwen2Config) -> Vec<(String, Vec<usize>)> {
    let (h, kv, im) = (
        c.hidden_size,
        c.num_key_value_heads * c.head_dim(),
        c.intermediate_size,
    );
    let mut shapes = vec![(
        "model.embed_tokens.weight".to_string(),
        vec![c.vocab_size, h],
    )];
    for i in 0..c.num_hidden_layers {
        let p = format!("model.layers.{i}");
        for (name, shape) in [
            ("input_layernorm.weight", vec![h]),
            ("self_attn.q_proj.weight", vec![h, h]),
            ("self_attn.q_proj.bias", vec![h]),
            ("self_attn.k_proj.weight", vec![kv, h]),
            ("self_attn.k_proj.bias", vec![kv]),
            ("self_attn.v_proj.weight", vec![kv, h]),
            ("self_attn.v_proj.bias", vec![kv]),
            ("self_attn.o_proj.weight", vec![h, h]),
            ("post_attention_layernorm.weight", vec![h]),
            ("mlp.gate_proj.weight", vec![im, h]),
            ("mlp.up_proj.weight", vec![im, h]),
            ("mlp.down_proj.weight", vec![h, im]),
        ] {
            shapes.push((format!("{p}.{name}"), shape));
        }
    }
    shapes.push(("model.norm.weight".into(), vec![h]));
    if !c.tie_word_embeddings {
        shapes.push(("lm_head.weight".into(), vec![c.vocab_size, h]));
    }
    shapes
}

/// Seeded values, uniform with these spreads: norm weights near 1; projections with standard
/// deviation 1/sqrt(fan_in), so activations keep their scale through the layers and the
/// residual stream moves away from the input embedding (with 0.02 everywhere, a tied model
/// only ever repeats its last token); embeddings and biases 0.02, like transformers' init.
fn random_tensor(name: &str, shape: &[usize], rng: &mut Rng) -> Vec<f32> {
    let (center, half_width) = match shape {
        _ if name.contains("norm") => (1.0, 0.1),
        [_, fan_in] if name.contains("_proj") => (0.0, (3.0 / *fan_in as f64).sqrt()),
        _ => (0.0, 0.02 * 3f64.sqrt()),
    };
    (0..shape.iter().product())
        .map(|_| (center + half_width * (2.0 * rng.next_f64() - 1.0)) as f32)
        .collect()
}

fn encode(values: &[f32], dtype: FileDType) -> Vec<u8> {
    match dtype {
        FileDType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        FileDType::F16 => values
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_le_bytes())
            .collect(),
        FileDType::BF16 => values
            .iter()
            .flat_map(|v| bf16::from_f32(*v).to_le_bytes())
            .collect(),
    }
}

/// The files of a checkpoint (name, bytes), weights in `shards` files (1: model.safetensors).
pub fn checkpoint_files(
    preset: &Preset,
    seed: u64,
    dtype: FileDType,
    shards: usize,
    tokenizer_json: Vec<u8>,
) -> Vec<(String, Vec<u8>)> {
    let mut config = preset.config.clone();
    config.torch_dtype = Some(dtype.torch_name().into());
    let mut rng = Rng::new(seed);
    let shapes = tensor_shapes(&config);
    let per_shard = shapes.len().div_ceil(shards.max(1));
    let mut files = Vec::new();
    let mut weight_map = BTreeMap::new();
    let shard_count = shapes.chunks(per_shard).len();
    for (i, chunk) in shapes.chunks(per_shard).enumerate() {
        let file = match shard_count {
            1 => SINGLE_FILE.to_string(),
            n => format!("model-{:05}-of-{n:05}.safetensors", i + 1),
        };
        let mut tensors = BTreeMap::new();
        for (name, shape) in chunk {
            let values = random_tensor(name, shape, &mut rng);
            tensors.insert(name.clone(), (dtype, shape.clone(), encode(&values, dtype)));
            weight_map.insert(name.clone(), file.clone());
        }
        files.push((file, serialize(&tensors)));
    }
    if shard_count > 1 {
        let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
        files.push((INDEX_FILE.into(), pretty(&index)));
    }
    files.push(("config.json".into(), config.to_json().into_bytes()));
    files.push(("tokenizer.json".into(), tokenizer_json));
    files.push((
        "tokenizer_config.json".into(),
        pretty(&tokenizer_config(&config)),
    ));
    let generation = serde_json::json!({
        "bos_token_id": 151643,
        "eos_token_id": [151645, 151643],
        "pad_token_id": 151643,
        "do_sample": true,
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "repetition_penalty": 1.05
    });
    files.push(("generation_config.json".into(), pretty(&generation)));
    files
}

fn tokenizer_config(config: &Qwen2Config) -> serde_json::Value {
    serde_json::json!({
        "add_bos_token": false,
        "add_prefix_space": false,
        "bos_token": null,
        "chat_template": QWEN2_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": false,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": config.max_position_embeddings,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": false,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": null
    })
}

fn pretty(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("JSON serializes")
}
