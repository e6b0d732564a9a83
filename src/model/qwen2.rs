//! Qwen2ForCausalLM: embedding, N x (RMSNorm, grouped-query attention with q/k/v bias and
//! rotate-half RoPE, RMSNorm, SwiGLU MLP), final RMSNorm, lm_head (or the tied embedding).
//! Field names follow the checkpoint's, so loading is a walk over the same names.

use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{DType, Device, Tensor};

use super::{KvCache, LoadError, Qwen2Config, Rope, VocabMatrix, Weights};

struct Linear {
    /// `[out, in]` as stored; multiplied through a transposed view.
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
}

impl Linear {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = x.matmul(self.weight.clone().transpose());
        match &self.bias {
            Some(b) => y + b.clone().unsqueeze(),
            None => y,
        }
    }
}

struct RmsNorm {
    weight: Tensor<1>,
    eps: f64,
}

impl RmsNorm {
    /// `x / sqrt(mean(x^2) + eps) * weight`, reduced in f32 as transformers does.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let dtype = x.dtype();
        let x = x.cast(DType::F32);
        let rms = (x.clone().square().mean_dim(1) + self.eps).sqrt();
        (x / rms).cast(dtype) * self.weight.clone().unsqueeze()
    }
}

struct SelfAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
}

struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let gate = silu(self.gate_proj.forward(x.clone()));
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }
}

struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: SelfAttention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

/// The loaded model: immutable, shared by every sequence; per-sequence state is a [`KvCache`].
pub struct Qwen2 {
    config: Qwen2Config,
    embed_tokens: VocabMatrix,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    /// `None` when the embedding is tied.
    lm_head: Option<VocabMatrix>,
    rope: Rope,
    device: Device,
    dtype: DType,
}

impl Qwen2 {
    /// Loads the network onto `device` in `dtype`, within the buffer size the device
    /// registered (see `backend::buffer_limit`).
    pub fn load(
        config: Qwen2Config,
        weights: &Weights,
        device: &Device,
        dtype: DType,
    ) -> Result<Self, LoadError> {
        let limit = crate::backend::buffer_limit(device);
        Self::load_within(config, weights, device, dtype, limit)
    }

    /// [`Qwen2::load`] with every tensor in buffers of at most `max_buffer_bytes`: the
    /// vocabulary matrices are split into row blocks, anything else that would not fit is
    /// refused.
    pub fn load_within(
        config: Qwen2Config,
        weights: &Weights,
        device: &Device,
        dtype: DType,
        max_buffer_bytes: Option<u64>,
    ) -> Result<Self, LoadError> {
        let c = &config;
        let (h, kv, im) = (
            c.hidden_size,
            c.num_key_value_heads * c.head_dim(),
            c.intermediate_size,
        );
        let matrix = |name: &str, rows: usize, cols: usize| {
            let bytes = (rows * cols * dtype.size()) as u64;
            match max_buffer_bytes {
                Some(limit) if bytes > limit => Err(LoadError::TooLarge {
                    tensor: name.to_string(),
                    bytes,
                    limit,
                }),
                _ => weights.load(name, [rows, cols], device, dtype),
            }
        };
        let vocab = |name: &str| {
            let shape = [c.vocab_size, h];
            VocabMatrix::load(weights, name, shape, (device, dtype), max_buffer_bytes)
        };
        let vector = |name: &str, len| weights.load(name, [len], device, dtype);
        let linear = |name: &str, out, inp, bias: bool| -> Result<Linear, LoadError> {
            Ok(Linear {
                weight: matrix(&format!("{name}.weight"), out, inp)?,
                bias: match bias {
                    true => Some(vector(&format!("{name}.bias"), out)?),
                    false => None,
                },
            })
        };
        let norm = |name: &str| -> Result<RmsNorm, LoadError> {
            Ok(RmsNorm {
                weight: vector(&format!("{name}.weight"), h)?,
                eps: c.rms_norm_eps,
            })
        };
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let p = format!("model.layers.{i}");
                Ok(DecoderLayer {
                    input_layernorm: norm(&format!("{p}.input_layernorm"))?,
                    self_attn: SelfAttention {
                        q_proj: linear(&format!("{p}.self_attn.q_proj"), h, h, true)?,
                        k_proj: linear(&format!("{p}.self_attn.k_proj"), kv, h, true)?,
                        v_proj: linear(&format!("{p}.self_attn.v_proj"), kv, h, true)?,
                        o_proj: linear(&format!("{p}.self_attn.o_proj"), h, h, false)?,
                    },
                    post_attention_layernorm: norm(&format!("{p}.post_attention_layernorm"))?,
                    mlp: Mlp {
                        gate_proj: linear(&format!("{p}.mlp.gate_proj"), im, h, false)?,
                        up_proj: linear(&format!("{p}.mlp.up_proj"), im, h, false)?,
                        down_proj: linear(&format!("{p}.mlp.down_proj"), h, im, false)?,
                    },
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        // Some tied checkpoints still ship lm_head.weight; use it when present.
        let lm_head = match c.tie_word_embeddings && !weights.contains("lm_head.weight") {
            true => None,
            false => Some(vocab("lm_head.weight")?),
        };
        Ok(Self {
            embed_tokens: vocab("model.embed_tokens.weight")?,
            layers,
            norm: norm("model.norm")?,
            lm_head,
            rope: Rope::new(
                c.head_dim(),
                c.rope_theta,
                c.max_position_embeddings,
                device,
                dtype,
            ),
            device: device.clone(),
            dtype,
            config,
        })
    }

    pub fn config(&self) -> &Qwen2Config {
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
            let h = layer.input_layernorm.forward(x.clone());
            x = x + self.attention(&layer.self_attn, h, i, cache);
            let h = layer.post_attention_layernorm.forward(x.clone());
            x = x + layer.mlp.forward(h);
        }
        cache.advance(len);
        let last = self.norm.forward(x.slice(len - 1..len));
        let head = self.lm_head.as_ref().unwrap_or(&self.embed_tokens);
        head.project(last).cast(DType::F32)
    }

    fn attention(
        &self,
        attn: &SelfAttention,
        x: Tensor<2>,
        layer: usize,
        cache: &mut KvCache,
    ) -> Tensor<2> {
        let c = &self.config;
        let (len, d) = (x.dims()[0], c.head_dim());
        // [len, heads * d] -> [1, heads, len, d]
        let heads = |t: Tensor<2>, n: usize| t.reshape([1, len, n, d]).swap_dims(1, 2);
        let q = heads(attn.q_proj.forward(x.clone()), c.num_attention_heads);
        let k = heads(attn.k_proj.forward(x.clone()), c.num_key_value_heads);
        let v = heads(attn.v_proj.forward(x), c.num_key_value_heads);
        let start = cache.len();
        let (q, k) = (self.rope.apply(q, start), self.rope.apply(k, start));
        let (k, v) = cache.append(layer, k, v);
        let (k, v) = (self.repeat_kv(k), self.repeat_kv(v));
        let options = AttentionModuleOptions {
            is_causal: true,
            ..Default::default()
        };
        let out = attention(q, k, v, None, None, options);
        attn.o_proj
            .forward(out.swap_dims(1, 2).reshape([len, c.hidden_size]))
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
