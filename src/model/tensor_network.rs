//! The decoder in burn tensors: embedding, N x (RMSNorm, grouped-query attention (q/k/v bias
//! in Qwen2, per-head q/k RMSNorm in Qwen3) with rotate-half RoPE, RMSNorm, SwiGLU MLP), final
//! RMSNorm, lm_head (or the tied embedding). Loading is the architecture description's walk.

use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{DType, Device, Tensor};

use super::architecture::TensorId;
use super::layout::{self, Store};
use super::{LoadError, ModelConfig, Rope, TensorCache as KvCache, VocabMatrix, Weights, rope};

type Linear = layout::Linear<Tensor<2>, Tensor<1>>;
type DecoderLayer = layout::Layer<Tensor<2>, Tensor<1>>;

fn linear(l: &Linear, x: Tensor<2>) -> Tensor<2> {
    let y = x.matmul(l.weight.clone().transpose());
    match &l.bias {
        Some(b) => y + b.clone().unsqueeze(),
        None => y,
    }
}

/// `x / sqrt(mean(x^2) + eps) * weight`, reduced in f32 as transformers does.
fn rms_norm(x: Tensor<2>, weight: &Tensor<1>, eps: f64) -> Tensor<2> {
    let dtype = x.dtype();
    let x = x.cast(DType::F32);
    let rms = (x.clone().square().mean_dim(1) + eps).sqrt();
    (x / rms).cast(dtype) * weight.clone().unsqueeze()
}

/// [`rms_norm`] over the last axis of `x: [1, heads, len, d]` (Qwen3's q/k norm).
fn head_norm(x: Tensor<4>, weight: &Tensor<1>, eps: f64) -> Tensor<4> {
    let dims = x.dims();
    let rows = rms_norm(x.reshape([dims[1] * dims[2], dims[3]]), weight, eps);
    rows.reshape(dims)
}

fn mlp(l: &DecoderLayer, x: Tensor<2>) -> Tensor<2> {
    let gate = silu(linear(&l.gate_proj, x.clone()));
    linear(&l.down_proj, gate * linear(&l.up_proj, x))
}

/// Loads into burn tensors on one device, refusing matrices over its buffer limit.
struct TensorStore<'a> {
    weights: &'a Weights,
    device: &'a Device,
    dtype: DType,
    limit: Option<u64>,
}

impl layout::Store for TensorStore<'_> {
    type Matrix = Tensor<2>;
    type Vector = Tensor<1>;

    fn matrix(&self, id: TensorId, [rows, cols]: [usize; 2]) -> Result<Tensor<2>, LoadError> {
        let bytes = (rows * cols * self.dtype.size()) as u64;
        match self.limit {
            Some(limit) if bytes > limit => Err(LoadError::TooLarge {
                tensor: id.name(),
                bytes,
                limit,
            }),
            _ => self.weights.load(id, [rows, cols], self.device, self.dtype),
        }
    }

    fn vector(&self, id: TensorId, len: usize) -> Result<Tensor<1>, LoadError> {
        self.weights.load(id, [len], self.device, self.dtype)
    }
}

/// The loaded model: immutable, shared by every sequence; per-sequence state is a [`KvCache`].
pub struct TensorNetwork {
    config: ModelConfig,
    embed_tokens: VocabMatrix,
    layers: Vec<DecoderLayer>,
    norm: Tensor<1>,
    /// `None` when the embedding is tied.
    lm_head: Option<VocabMatrix>,
    rope: Rope,
    device: Device,
    dtype: DType,
}

impl TensorNetwork {
    /// Loads the network onto `device` in `dtype`, within the buffer size the device
    /// registered (see `backend::buffer_limit`).
    pub fn load(
        config: ModelConfig,
        weights: &Weights,
        device: &Device,
        dtype: DType,
    ) -> Result<Self, LoadError> {
        let limit = crate::backend::buffer_limit(device);
        Self::load_within(config, weights, device, dtype, limit)
    }

    /// [`Self::load`] with every tensor in buffers of at most `max_buffer_bytes`: the
    /// vocabulary matrices are split into row blocks, anything else that would not fit is
    /// refused.
    pub fn load_within(
        config: ModelConfig,
        weights: &Weights,
        device: &Device,
        dtype: DType,
        max_buffer_bytes: Option<u64>,
    ) -> Result<Self, LoadError> {
        let c = &config;
        let store = TensorStore {
            weights,
            device,
            dtype,
            limit: max_buffer_bytes,
        };
        let vocab = |id| {
            let shape = [c.vocab_size, c.hidden_size];
            VocabMatrix::load(weights, id, shape, (device, dtype), max_buffer_bytes)
        };
        let layers = layout::layers(c, &store)?;
        let (embed_tokens, lm_head) = layout::vocabulary(c, |id| weights.contains(id), vocab)?;
        let inv_freq = rope::inv_freq(c.head_dim(), &c.rope);
        Ok(Self {
            embed_tokens,
            layers,
            norm: store.vector(TensorId::FinalNorm, c.hidden_size)?,
            lm_head,
            rope: Rope::new(&inv_freq, c.max_position_embeddings, device, dtype),
            device: device.clone(),
            dtype,
            config,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// An empty cache for a sequence of at most `capacity` positions.
    pub fn new_cache(&self, capacity: usize) -> KvCache {
        let c = &self.config;
        KvCache::new(
            c.num_hidden_layers,
            c.num_key_value_heads,
            c.head_dim(),
            capacity.min(c.max_position_embeddings),
            &self.device,
            self.dtype,
        )
    }

    /// Runs `ids` at the cache's next positions and returns the logits of the last one,
    /// `[1, vocab]` in f32. Prefill passes the whole prompt, decode one token.
    pub fn forward(&self, ids: &[u32], cache: &mut KvCache) -> Tensor<2> {
        let len = ids.len();
        assert!(
            cache.len() + len <= cache.capacity(),
            "sequence of {} positions overflows its cache of {}",
            cache.len() + len,
            cache.capacity()
        );
        let mut x = self.embed_tokens.embed(ids, &self.device);
        for (i, layer) in self.layers.iter().enumerate() {
            let eps = self.config.rms_norm_eps;
            let h = rms_norm(x.clone(), &layer.input_layernorm, eps);
            x = x + self.attention(layer, h, i, cache);
            let h = rms_norm(x.clone(), &layer.post_attention_layernorm, eps);
            x = x + mlp(layer, h);
        }
        cache.advance(len);
        let last = rms_norm(x.slice(len - 1..len), &self.norm, self.config.rms_norm_eps);
        let head = self.lm_head.as_ref().unwrap_or(&self.embed_tokens);
        head.project(last).cast(DType::F32)
    }

    fn attention(
        &self,
        attn: &DecoderLayer,
        x: Tensor<2>,
        layer: usize,
        cache: &mut KvCache,
    ) -> Tensor<2> {
        let c = &self.config;
        let (len, d) = (x.dims()[0], c.head_dim());
        // [len, heads * d] -> [1, heads, len, d]
        let heads = |t: Tensor<2>, n: usize| t.reshape([1, len, n, d]).swap_dims(1, 2);
        let q = heads(linear(&attn.q_proj, x.clone()), c.num_attention_heads);
        let k = heads(linear(&attn.k_proj, x.clone()), c.num_key_value_heads);
        let v = heads(linear(&attn.v_proj, x), c.num_key_value_heads);
        let (q, k) = match (&attn.q_norm, &attn.k_norm) {
            (Some(qn), Some(kn)) => (
                head_norm(q, qn, c.rms_norm_eps),
                head_norm(k, kn, c.rms_norm_eps),
            ),
            _ => (q, k),
        };
        let start = cache.len();
        let (q, k) = (self.rope.apply(q, start), self.rope.apply(k, start));
        let (k, v) = cache.append(layer, k, v);
        let (k, v) = (self.repeat_kv(k), self.repeat_kv(v));
        let options = AttentionModuleOptions {
            is_causal: true,
            ..Default::default()
        };
        let out = attention(q, k, v, None, None, options);
        linear(
            &attn.o_proj,
            out.swap_dims(1, 2)
                .reshape([len, c.num_attention_heads * d]),
        )
    }

    /// Grouped-query attention: each key/value head serves `group_size` query heads.
    fn repeat_kv(&self, x: Tensor<4>) -> Tensor<4> {
        let group = self.config.group_size();
        if group == 1 {
            return x;
        }
        let [_, kv, len, d] = x.dims();
        x.reshape([1, kv, 1, len, d])
            .expand([1, kv, group, len, d])
            .reshape([1, kv * group, len, d])
    }
}
