//! The checkpoint's tensors by name and shape: one walk over Qwen2's names that both networks
//! (burn tensors on a GPU, host kernels on the CPU) load through, each in its own storage.

use super::{LoadError, Qwen2Config};

/// A projection: `[out, in]` weight and, for q/k/v, a bias.
pub struct Linear<M, V> {
    pub weight: M,
    pub bias: Option<V>,
}

pub struct Layer<M, V> {
    pub input_layernorm: V,
    pub q_proj: Linear<M, V>,
    pub k_proj: Linear<M, V>,
    pub v_proj: Linear<M, V>,
    pub o_proj: Linear<M, V>,
    pub post_attention_layernorm: V,
    pub gate_proj: Linear<M, V>,
    pub up_proj: Linear<M, V>,
    pub down_proj: Linear<M, V>,
}

/// How one network stores what it loads.
pub trait Store {
    type Matrix;
    type Vector;
    fn matrix(&self, name: &str, shape: [usize; 2]) -> Result<Self::Matrix, LoadError>;
    fn vector(&self, name: &str, len: usize) -> Result<Self::Vector, LoadError>;
}

/// Every decoder layer of `config`, in order.
#[allow(clippy::type_complexity)]
pub fn layers<S: Store>(
    config: &Qwen2Config,
    store: &S,
) -> Result<Vec<Layer<S::Matrix, S::Vector>>, LoadError> {
    let c = config;
    let (h, kv, im) = (
        c.hidden_size,
        c.num_key_value_heads * c.head_dim(),
        c.intermediate_size,
    );
    let linear = |name: String, out, inp, bias: bool| -> Result<_, LoadError> {
        Ok(Linear {
            weight: store.matrix(&format!("{name}.weight"), [out, inp])?,
            bias: match bias {
                true => Some(store.vector(&format!("{name}.bias"), out)?),
                false => None,
            },
        })
    };
    (0..c.num_hidden_layers)
        .map(|i| {
            let p = format!("model.layers.{i}");
            Ok(Layer {
                input_layernorm: store.vector(&format!("{p}.input_layernorm.weight"), h)?,
                q_proj: linear(format!("{p}.self_attn.q_proj"), h, h, true)?,
                k_proj: linear(format!("{p}.self_attn.k_proj"), kv, h, true)?,
                v_proj: linear(format!("{p}.self_attn.v_proj"), kv, h, true)?,
                o_proj: linear(format!("{p}.self_attn.o_proj"), h, h, false)?,
                post_attention_layernorm: store
                    .vector(&format!("{p}.post_attention_layernorm.weight"), h)?,
                gate_proj: linear(format!("{p}.mlp.gate_proj"), im, h, false)?,
                up_proj: linear(format!("{p}.mlp.up_proj"), im, h, false)?,
                down_proj: linear(format!("{p}.mlp.down_proj"), h, im, false)?,
            })
        })
        .collect()
}

/// The token embedding, and the lm_head unless the output reuses the embedding (`None`), each
/// loaded by `load(name)`. Some tied checkpoints still ship `lm_head.weight`; it is used when
/// present.
pub fn vocabulary<M>(
    config: &Qwen2Config,
    has: impl Fn(&str) -> bool,
    load: impl Fn(&str) -> Result<M, LoadError>,
) -> Result<(M, Option<M>), LoadError> {
    const LM_HEAD: &str = "lm_head.weight";
    let lm_head = match !config.tie_word_embeddings || has(LM_HEAD) {
        true => Some(load(LM_HEAD)?),
        false => None,
    };
    Ok((load("model.embed_tokens.weight")?, lm_head))
}

pub const NORM: &str = "model.norm.weight";
