//! Test checkpoints: complete Hugging Face checkpoint directories of each family with seeded
//! random weights, at tiny sizes for tests and at the real shapes for benchmarks. Same seed,
//! same bytes. The tensors are the architecture description's.

use std::collections::BTreeMap;

use burn::tensor::{bf16, f16};
use serde_json::{Value, json};

use super::architecture::{Family, TensorId, TensorSpec, tensors};
use super::safetensors::{FileDType, serialize};
use super::weights::{INDEX_FILE, SINGLE_FILE};
use super::{ConfigWriter, ModelConfig, RopeParameters, RopeScaling};
use crate::generate::rng::Rng;

/// Qwen2-Instruct's chat template, as its tokenizer_config.json ships it.
pub const QWEN2_CHAT_TEMPLATE: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// The tokenizer a preset is made with: the real one of its family, fetched by
/// scripts/fetch-tokenizer.sh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    /// Qwen2/2.5/3's 151643-token BPE, padded to 151936 rows as their embeddings are.
    Qwen,
    /// Llama 3.x's 128256 tokens.
    Llama3,
}

impl Vocabulary {
    pub fn rows(self) -> usize {
        match self {
            Self::Qwen => 151936,
            Self::Llama3 => 128256,
        }
    }

    /// The folder under `~/.cache/hearth` that scripts/fetch-tokenizer.sh fills.
    pub fn cache_dir(self) -> &'static str {
        match self {
            Self::Qwen => "tokenizer",
            Self::Llama3 => "tokenizer-llama3",
        }
    }

    /// (bos, eos ids), as the family's generation_config.json has them.
    fn special_ids(self) -> (u32, Vec<u32>) {
        match self {
            Self::Qwen => (151643, vec![151645, 151643]),
            Self::Llama3 => (128000, vec![128001, 128008, 128009]),
        }
    }
}

/// The tokenizer's own files: tokenizer.json and the tokenizer_config.json it ships with
/// (chat template, special tokens). Qwen2 presets write their own tokenizer_config.json.
pub struct TokenizerFiles {
    pub tokenizer_json: Vec<u8>,
    pub tokenizer_config: Option<Vec<u8>>,
}

/// A named model shape and the dtype its weights are stored in.
pub struct Preset {
    pub name: &'static str,
    pub about: &'static str,
    pub config: ModelConfig,
    pub vocabulary: Vocabulary,
    pub dtype: FileDType,
}

/// The shape of one preset: (hidden, intermediate, layers), (heads, kv heads, head_dim),
/// tied, (context, eps).
struct Shape(
    (usize, usize, usize),
    (usize, usize, usize),
    bool,
    (usize, f64),
);

fn config(
    family: Family,
    vocabulary: Vocabulary,
    shape: Shape,
    rope: RopeParameters,
) -> ModelConfig {
    let Shape((hidden, intermediate, layers), (heads, kv_heads, head_dim), tied, (context, eps)) =
        shape;
    ModelConfig {
        family,
        vocab_size: vocabulary.rows(),
        hidden_size: hidden,
        intermediate_size: intermediate,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: kv_heads,
        head_dim,
        max_position_embeddings: context,
        rms_norm_eps: eps,
        rope,
        tie_word_embeddings: tied,
        qkv_bias: family == Family::Qwen2,
        o_bias: false,
        torch_dtype: None,
    }
}

fn plain_rope(theta: f64) -> RopeParameters {
    RopeParameters {
        theta,
        scaling: RopeScaling::Default,
    }
}

/// Llama 3.1/3.2's RoPE: theta 500000, scaled for 8192 original positions.
fn llama3_rope() -> RopeParameters {
    RopeParameters {
        theta: 500_000.0,
        scaling: RopeScaling::Llama3 {
            factor: 32.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
        },
    }
}

pub fn presets() -> Vec<Preset> {
    use Family::*;
    use Vocabulary::*;
    let preset = |name, about, family, vocabulary, shape, rope, dtype| Preset {
        name,
        about,
        config: config(family, vocabulary, shape, rope),
        vocabulary,
        dtype,
    };
    let (f32, bf16) = (FileDType::F32, FileDType::BF16);
    vec![
        preset(
            "tiny-gqa-tied",
            "Qwen2, 2 layers, 4 query / 2 key-value heads, tied embedding, f32 (~40 MB)",
            Qwen2,
            Qwen,
            Shape((64, 160, 2), (4, 2, 16), true, (2048, 1e-6)),
            plain_rope(1e6),
            f32,
        ),
        preset(
            "tiny-mqa-untied",
            "Qwen2, 3 layers, 4 query / 1 key-value head, separate lm_head, bf16 (~40 MB)",
            Qwen2,
            Qwen,
            Shape((64, 128, 3), (4, 1, 16), false, (2048, 1e-5)),
            plain_rope(1e4),
            bf16,
        ),
        preset(
            "tiny-qwen3",
            "Qwen3, 2 layers, 4 query / 2 key-value heads of 32 (apart from hidden/heads), q/k norm, tied, f32 (~40 MB)",
            Qwen3,
            Qwen,
            Shape((64, 160, 2), (4, 2, 32), true, (2048, 1e-6)),
            plain_rope(1e6),
            f32,
        ),
        preset(
            "tiny-llama",
            "Llama 3, 2 layers, 4 query / 2 key-value heads, llama3 RoPE scaling, separate lm_head, f32 (~66 MB)",
            Llama,
            Llama3,
            Shape((64, 192, 2), (4, 2, 16), false, (2048, 1e-5)),
            llama3_rope(),
            f32,
        ),
        preset(
            "qwen2-0.5b",
            "the shape of Qwen2-0.5B, bf16 (~1 GB)",
            Qwen2,
            Qwen,
            Shape((896, 4864, 24), (14, 2, 64), true, (32768, 1e-6)),
            plain_rope(1e6),
            bf16,
        ),
        preset(
            "qwen2-1.5b",
            "the shape of Qwen2-1.5B, bf16 (~3 GB)",
            Qwen2,
            Qwen,
            Shape((1536, 8960, 28), (12, 2, 128), true, (32768, 1e-6)),
            plain_rope(1e6),
            bf16,
        ),
        preset(
            "qwen3-0.6b",
            "the shape of Qwen3-0.6B, bf16 (~1.2 GB)",
            Qwen3,
            Qwen,
            Shape((1024, 3072, 28), (16, 8, 128), true, (40960, 1e-6)),
            plain_rope(1e6),
            bf16,
        ),
        preset(
            "qwen3-1.7b",
            "the shape of Qwen3-1.7B, bf16 (~3.4 GB)",
            Qwen3,
            Qwen,
            Shape((2048, 6144, 28), (16, 8, 128), true, (40960, 1e-6)),
            plain_rope(1e6),
            bf16,
        ),
        preset(
            "qwen3-4b",
            "the shape of Qwen3-4B, bf16 (~8 GB)",
            Qwen3,
            Qwen,
            Shape((2560, 9728, 36), (32, 8, 128), true, (40960, 1e-6)),
            plain_rope(1e6),
            bf16,
        ),
        preset(
            "llama-3.2-1b",
            "the shape of Llama-3.2-1B, tied, bf16 (~2.5 GB)",
            Llama,
            Llama3,
            Shape((2048, 8192, 16), (32, 8, 64), true, (131072, 1e-5)),
            llama3_rope(),
            bf16,
        ),
    ]
}

pub fn preset(name: &str) -> Option<Preset> {
    presets().into_iter().find(|p| p.name == name)
}

/// Seeded values, uniform with these spreads: norm weights near 1; projections with standard
/// deviation 1/sqrt(fan_in), so activations keep their scale through the layers and the
/// residual stream moves away from the input embedding (with 0.02 everywhere, a tied model
/// only ever repeats its last token); embeddings and biases 0.02, like transformers' init.
fn random_tensor(id: TensorId, shape: &[usize], rng: &mut Rng) -> Vec<f32> {
    let name = id.name();
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
        // `FileDType::parse`, where the dtype comes from, names float dtypes only.
        FileDType::Block(ty) => unreachable!("safetensors cannot hold {} blocks", ty.name()),
    }
}

/// Each tensor of `config`'s checkpoint in order with its seeded values: the same values
/// [`checkpoint_files`] stores, for writers of other formats.
pub fn for_each_tensor(config: &ModelConfig, seed: u64, mut f: impl FnMut(&TensorSpec, Vec<f32>)) {
    let mut rng = Rng::new(seed);
    for spec in tensors(config) {
        let values = random_tensor(spec.id, &spec.shape, &mut rng);
        f(&spec, values);
    }
}

/// How [`checkpoint_files`] writes a checkpoint.
pub struct Options {
    pub seed: u64,
    pub dtype: FileDType,
    /// Weight files (1: model.safetensors).
    pub shards: usize,
    pub writer: ConfigWriter,
}

/// The files of a checkpoint (name, bytes).
pub fn checkpoint_files(
    preset: &Preset,
    options: &Options,
    tokenizer: &TokenizerFiles,
) -> Vec<(String, Vec<u8>)> {
    let mut config = preset.config.clone();
    config.torch_dtype = Some(options.dtype.torch_name().into());
    let count = tensors(&config).len();
    let per_shard = count.div_ceil(options.shards.max(1));
    let shard_count = count.div_ceil(per_shard);
    let file_name = |i: usize| match shard_count {
        1 => SINGLE_FILE.to_string(),
        n => format!("model-{:05}-of-{n:05}.safetensors", i / per_shard + 1),
    };
    let mut shards = vec![BTreeMap::new(); shard_count];
    let mut weight_map = BTreeMap::new();
    let mut at = 0;
    for_each_tensor(&config, options.seed, |spec, values| {
        let bytes = encode(&values, options.dtype);
        shards[at / per_shard].insert(spec.id.name(), (options.dtype, spec.shape.clone(), bytes));
        weight_map.insert(spec.id.name(), file_name(at));
        at += 1;
    });
    let mut files: Vec<(String, Vec<u8>)> = shards
        .iter()
        .enumerate()
        .map(|(i, tensors)| (file_name(i * per_shard), serialize(tensors)))
        .collect();
    if shard_count > 1 {
        let index = json!({"metadata": {}, "weight_map": weight_map});
        files.push((INDEX_FILE.into(), pretty(&index)));
    }
    let (bos, eos) = preset.vocabulary.special_ids();
    let mut config_json = config.to_json(options.writer);
    config_json["bos_token_id"] = json!(bos);
    config_json["eos_token_id"] = json!(eos[0]);
    files.push(("config.json".into(), pretty(&config_json)));
    files.push(("tokenizer.json".into(), tokenizer.tokenizer_json.clone()));
    let mut tokenizer_config = match (&tokenizer.tokenizer_config, config.family) {
        (Some(bytes), family) if family != Family::Qwen2 => {
            serde_json::from_slice(bytes).expect("the tokenizer's tokenizer_config.json is JSON")
        }
        _ => qwen2_tokenizer_config(&config),
    };
    // transformers 5 saves the template beside the config instead of inside it.
    if options.writer == ConfigWriter::Transformers5
        && let Some(Value::String(template)) = tokenizer_config
            .as_object_mut()
            .and_then(|m| m.remove("chat_template"))
    {
        files.push(("chat_template.jinja".into(), template.into_bytes()));
    }
    files.push(("tokenizer_config.json".into(), pretty(&tokenizer_config)));
    let generation = json!({
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": bos,
        "do_sample": true,
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "repetition_penalty": 1.05
    });
    files.push(("generation_config.json".into(), pretty(&generation)));
    files
}

fn qwen2_tokenizer_config(config: &ModelConfig) -> Value {
    json!({
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

fn pretty(value: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("JSON serializes")
}
