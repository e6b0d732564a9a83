//! The decoder-only families hearth runs, described once: which tensors a checkpoint holds,
//! under which names (Hugging Face's and GGUF's), in which shapes, and what each family adds
//! to the shared forward. The loaders, the test-model maker, the memory estimates and both
//! networks read this; no other place names a tensor. Adding a family is one [`FAMILIES`]
//! entry plus what is new in its forward.

use super::ModelConfig;

/// One family: how its checkpoints say who they are, and what its layers hold.
#[derive(Debug, PartialEq, Eq)]
pub struct FamilySpec {
    pub family: Family,
    /// config.json's `model_type`.
    pub model_type: &'static str,
    /// config.json's `architectures[0]`.
    pub architecture: &'static str,
    /// GGUF's `general.architecture`.
    pub gguf_architecture: &'static str,
    /// Bias on q/k/v always (Network), or as config.json's `attention_bias` says.
    pub qkv_bias: Bias,
    /// RMSNorm over each head of q and k before RoPE (Qwen3).
    pub qk_norm: bool,
    /// The head size when config.json gives none: `hidden_size / heads`, or a fixed one.
    pub default_head_dim: Option<usize>,
    /// Whether a checkpoint without a chat template may be served with ChatML (Qwen's own).
    pub chatml_fallback: bool,
    /// GGUF files of this family rotate q/k in pairs, so llama.cpp's converter permuted the
    /// rows of `q_proj`/`k_proj`; loading undoes it (see `gguf::unpermute`).
    pub gguf_permuted_qk: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Qwen2,
    Qwen3,
    Llama,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bias {
    Always,
    /// `attention_bias` (default false): then q, k, v and o all have one, as in Llama.
    ByConfig,
}

pub const FAMILIES: &[FamilySpec] = &[
    FamilySpec {
        family: Family::Qwen2,
        model_type: "qwen2",
        architecture: "Qwen2ForCausalLM",
        gguf_architecture: "qwen2",
        qkv_bias: Bias::Always,
        qk_norm: false,
        default_head_dim: None,
        chatml_fallback: true,
        gguf_permuted_qk: false,
    },
    FamilySpec {
        family: Family::Qwen3,
        model_type: "qwen3",
        architecture: "Qwen3ForCausalLM",
        gguf_architecture: "qwen3",
        qkv_bias: Bias::ByConfig,
        qk_norm: true,
        default_head_dim: Some(128),
        chatml_fallback: true,
        gguf_permuted_qk: false,
    },
    FamilySpec {
        family: Family::Llama,
        model_type: "llama",
        architecture: "LlamaForCausalLM",
        gguf_architecture: "llama",
        qkv_bias: Bias::ByConfig,
        qk_norm: false,
        default_head_dim: None,
        chatml_fallback: false,
        gguf_permuted_qk: true,
    },
];

impl Family {
    pub fn spec(self) -> &'static FamilySpec {
        FAMILIES
            .iter()
            .find(|f| f.family == self)
            .expect("every family has an entry")
    }

    pub fn by_model_type(model_type: &str) -> Option<Self> {
        FAMILIES
            .iter()
            .find(|f| f.model_type == model_type)
            .map(|f| f.family)
    }

    pub fn by_gguf_architecture(name: &str) -> Option<Self> {
        FAMILIES
            .iter()
            .find(|f| f.gguf_architecture == name)
            .map(|f| f.family)
    }

    /// Every `model_type` that loads, for refusals.
    pub fn supported() -> String {
        let names: Vec<&str> = FAMILIES.iter().map(|f| f.model_type).collect();
        names.join(", ")
    }
}

/// A tensor of a checkpoint, by what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TensorId {
    Embedding,
    Layer(usize, LayerTensor),
    FinalNorm,
    LmHead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerTensor {
    InputNorm,
    Q,
    QBias,
    K,
    KBias,
    V,
    VBias,
    O,
    OBias,
    QNorm,
    KNorm,
    PostNorm,
    Gate,
    Up,
    Down,
}

impl LayerTensor {
    /// (Hugging Face name, GGUF name) within layer `i`.
    fn names(self) -> (&'static str, &'static str) {
        use LayerTensor::*;
        match self {
            InputNorm => ("input_layernorm.weight", "attn_norm.weight"),
            Q => ("self_attn.q_proj.weight", "attn_q.weight"),
            QBias => ("self_attn.q_proj.bias", "attn_q.bias"),
            K => ("self_attn.k_proj.weight", "attn_k.weight"),
            KBias => ("self_attn.k_proj.bias", "attn_k.bias"),
            V => ("self_attn.v_proj.weight", "attn_v.weight"),
            VBias => ("self_attn.v_proj.bias", "attn_v.bias"),
            O => ("self_attn.o_proj.weight", "attn_output.weight"),
            OBias => ("self_attn.o_proj.bias", "attn_output.bias"),
            QNorm => ("self_attn.q_norm.weight", "attn_q_norm.weight"),
            KNorm => ("self_attn.k_norm.weight", "attn_k_norm.weight"),
            PostNorm => ("post_attention_layernorm.weight", "ffn_norm.weight"),
            Gate => ("mlp.gate_proj.weight", "ffn_gate.weight"),
            Up => ("mlp.up_proj.weight", "ffn_up.weight"),
            Down => ("mlp.down_proj.weight", "ffn_down.weight"),
        }
    }
}

impl TensorId {
    /// The name in a Hugging Face checkpoint.
    pub fn name(self) -> String {
        match self {
            Self::Embedding => "model.embed_tokens.weight".into(),
            Self::Layer(i, t) => format!("model.layers.{i}.{}", t.names().0),
            Self::FinalNorm => "model.norm.weight".into(),
            Self::LmHead => "lm_head.weight".into(),
        }
    }

    /// The name in a GGUF file.
    pub fn gguf_name(self) -> String {
        match self {
            Self::Embedding => "token_embd.weight".into(),
            Self::Layer(i, t) => format!("blk.{i}.{}", t.names().1),
            Self::FinalNorm => "output_norm.weight".into(),
            Self::LmHead => "output.weight".into(),
        }
    }

    /// The embedding and lm_head: one row per token, split into blocks on small GPU buffers
    /// and kept in q8 when the layers are q4.
    pub fn is_vocabulary(self) -> bool {
        matches!(self, Self::Embedding | Self::LmHead)
    }
}

/// A tensor and its shape (`[out, in]` for a matrix, as Hugging Face stores it).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub id: TensorId,
    pub shape: Vec<usize>,
}

/// The tensors of layer `i`, in checkpoint order, with their shapes.
pub fn layer_tensors(c: &ModelConfig, i: usize) -> Vec<TensorSpec> {
    use LayerTensor::*;
    let (h, d, im) = (c.hidden_size, c.head_dim(), c.intermediate_size);
    let (q, kv) = (c.num_attention_heads * d, c.num_key_value_heads * d);
    let mut specs = vec![(InputNorm, vec![h]), (Q, vec![q, h])];
    let bias = c.qkv_bias;
    specs.extend(bias.then(|| (QBias, vec![q])));
    specs.push((K, vec![kv, h]));
    specs.extend(bias.then(|| (KBias, vec![kv])));
    specs.push((V, vec![kv, h]));
    specs.extend(bias.then(|| (VBias, vec![kv])));
    specs.push((O, vec![h, q]));
    specs.extend(c.o_bias.then(|| (OBias, vec![h])));
    if c.family.spec().qk_norm {
        specs.extend([(QNorm, vec![d]), (KNorm, vec![d])]);
    }
    specs.extend([
        (PostNorm, vec![h]),
        (Gate, vec![im, h]),
        (Up, vec![im, h]),
        (Down, vec![h, im]),
    ]);
    specs
        .into_iter()
        .map(|(t, shape)| TensorSpec {
            id: TensorId::Layer(i, t),
            shape,
        })
        .collect()
}

/// Every tensor a checkpoint of `c` holds, in checkpoint order; `lm_head` only when untied.
pub fn tensors(c: &ModelConfig) -> Vec<TensorSpec> {
    let vocab = vec![c.vocab_size, c.hidden_size];
    let mut specs = vec![TensorSpec {
        id: TensorId::Embedding,
        shape: vocab.clone(),
    }];
    specs.extend((0..c.num_hidden_layers).flat_map(|i| layer_tensors(c, i)));
    specs.push(TensorSpec {
        id: TensorId::FinalNorm,
        shape: vec![c.hidden_size],
    });
    if !c.tie_word_embeddings {
        specs.push(TensorSpec {
            id: TensorId::LmHead,
            shape: vocab,
        });
    }
    specs
}
