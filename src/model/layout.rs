//! The checkpoint's tensors gathered into layers: one walk over the architecture description
//! that every network (our kernels on the CPU and on a GPU, burn's tensor ops) loads through,
//! each in its own storage.

use super::architecture::{LayerTensor, TensorId, TensorSpec, layer_tensors};
use super::{LoadError, ModelConfig};

/// A projection: `[out, in]` weight and, where the family has one, a bias.
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
    /// Per-head RMSNorm of q and k before RoPE (Qwen3).
    pub q_norm: Option<V>,
    pub k_norm: Option<V>,
    pub post_attention_layernorm: V,
    pub gate_proj: Linear<M, V>,
    pub up_proj: Linear<M, V>,
    pub down_proj: Linear<M, V>,
}

/// How one network stores what it loads.
pub trait Store {
    type Matrix;
    type Vector;
    fn matrix(&self, id: TensorId, shape: [usize; 2]) -> Result<Self::Matrix, LoadError>;
    fn vector(&self, id: TensorId, len: usize) -> Result<Self::Vector, LoadError>;
}

/// Every decoder layer of `config`, in order.
#[allow(clippy::type_complexity)]
pub fn layers<S: Store>(
    config: &ModelConfig,
    store: &S,
) -> Result<Vec<Layer<S::Matrix, S::Vector>>, LoadError> {
    (0..config.num_hidden_layers)
        .map(|i| {
            let specs = layer_tensors(config, i);
            let spec = |t: LayerTensor| specs.iter().find(|s| s.id == TensorId::Layer(i, t));
            let vector = |t| -> Result<Option<S::Vector>, LoadError> {
                spec(t)
                    .map(|s: &TensorSpec| store.vector(s.id, s.shape[0]))
                    .transpose()
            };
            let required = |t| Ok::<_, LoadError>(vector(t)?.expect("every family has norms"));
            let linear = |weight, bias: Option<LayerTensor>| -> Result<_, LoadError> {
                let s: &TensorSpec = spec(weight).expect("every family has the projections");
                Ok(Linear {
                    weight: store.matrix(s.id, [s.shape[0], s.shape[1]])?,
                    bias: match bias {
                        Some(bias) => vector(bias)?,
                        None => None,
                    },
                })
            };
            use LayerTensor::*;
            Ok(Layer {
                input_layernorm: required(InputNorm)?,
                q_proj: linear(Q, Some(QBias))?,
                k_proj: linear(K, Some(KBias))?,
                v_proj: linear(V, Some(VBias))?,
                o_proj: linear(O, Some(OBias))?,
                q_norm: vector(QNorm)?,
                k_norm: vector(KNorm)?,
                post_attention_layernorm: required(PostNorm)?,
                gate_proj: linear(Gate, None)?,
                up_proj: linear(Up, None)?,
                down_proj: linear(Down, None)?,
            })
        })
        .collect()
}

/// The token embedding, and the lm_head unless the output reuses the embedding (`None`), each
/// loaded by `load(id)`. Some tied checkpoints still ship `lm_head.weight`; it is used when
/// present.
pub fn vocabulary<M>(
    config: &ModelConfig,
    has: impl Fn(TensorId) -> bool,
    load: impl Fn(TensorId) -> Result<M, LoadError>,
) -> Result<(M, Option<M>), LoadError> {
    let lm_head = match !config.tie_word_embeddings || has(TensorId::LmHead) {
        true => Some(load(TensorId::LmHead)?),
        false => None,
    };
    Ok((load(TensorId::Embedding)?, lm_head))
}
