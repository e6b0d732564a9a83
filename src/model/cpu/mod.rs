//! The decoder on the CPU through our own kernels: weights stay in their stored format (borrowed
//! from the checkpoint file's bytes when it is the run format) or in int8/int4 blocks, and
//! activations are f32 rows in buffers the network reuses, so decoding a token allocates
//! nothing. A pass takes several sequences at once, their rows stacked, so each weight is read
//! once for all of them.

mod attention;
mod convert;
mod dispatch;
mod groups;
mod kernels;
mod matrix;
mod ops;
mod simd;

use kernels::{Job, PreparedInput, matmul};
// The GPU network uploads the same formats.
#[cfg(feature = "gpu")]
pub(crate) use matrix::Data;
pub(crate) use matrix::{Matrix, to_f32};

use super::architecture::TensorId;
use super::layout::{self, Layer};
use std::sync::Mutex;

use super::{LoadError, ModelConfig, Precision, Weights, rope};

type CpuLayer = Layer<Matrix, Vec<f32>>;

pub struct CpuNetwork {
    config: ModelConfig,
    embed_tokens: Matrix,
    layers: Vec<CpuLayer>,
    norm: Vec<f32>,
    /// `None` when the embedding is tied.
    lm_head: Option<Matrix>,
    inv_freq: Vec<f32>,
    precision: Precision,
    /// Reused by every pass (one at a time: a pass is synchronous and splits its own work).
    buffers: Mutex<Buffers>,
}

/// One sequence's share of a pass: `ids` at its cache's next positions, prompt tokens or the
/// next token of an answer.
pub struct CpuStep<'a> {
    pub ids: &'a [u32],
    pub cache: &'a mut CpuCache,
}

/// Loads each tensor into the kernels' formats.
struct HostStore<'a> {
    weights: &'a Weights,
    precision: Precision,
}

impl layout::Store for HostStore<'_> {
    type Matrix = Matrix;
    type Vector = Vec<f32>;

    fn matrix(&self, id: TensorId, shape: [usize; 2]) -> Result<Matrix, LoadError> {
        self.weights.with_raw(id, &shape, |raw, blob| {
            Matrix::from_raw(raw, blob, shape, self.precision).map(Matrix::for_cpu)
        })
    }

    fn vector(&self, id: TensorId, len: usize) -> Result<Vec<f32>, LoadError> {
        self.weights
            .with_raw(id, &[len], |raw, _| Ok(matrix::to_f32(raw)))
    }
}

impl CpuNetwork {
    pub fn load(
        config: ModelConfig,
        weights: &Weights,
        precision: Precision,
    ) -> Result<Self, LoadError> {
        let isa = dispatch::isa().map_err(|message| LoadError::Config {
            file: "environment".into(),
            message,
        })?;
        tracing::info!(isa = isa.name(), "CPU kernels");
        let c = &config;
        let store = HostStore { weights, precision };
        let layers = layout::layers(c, &store)?;
        let vocab_store = HostStore {
            weights,
            precision: precision.for_vocabulary(),
        };
        let (embed_tokens, lm_head) = layout::vocabulary(
            c,
            |id| weights.contains(id),
            |id| layout::Store::matrix(&vocab_store, id, [c.vocab_size, c.hidden_size]),
        )?;
        Ok(Self {
            embed_tokens,
            layers,
            norm: layout::Store::vector(&store, TensorId::FinalNorm, c.hidden_size)?,
            lm_head,
            inv_freq: rope::inv_freq(c.head_dim(), &c.rope),
            precision,
            config,
            buffers: Mutex::default(),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The instruction set its kernels run on ("avx512", "avx2", ...).
    pub fn isa(&self) -> &'static str {
        dispatch::isa().map_or("portable", dispatch::Isa::name)
    }

    /// The bytes the weight matrices hold (a tied embedding once).
    pub fn weight_bytes(&self) -> usize {
        let head = self.lm_head.as_ref().map_or(0, Matrix::bytes);
        let layer = |l: &CpuLayer| {
            [
                &l.q_proj,
                &l.k_proj,
                &l.v_proj,
                &l.o_proj,
                &l.gate_proj,
                &l.up_proj,
                &l.down_proj,
            ]
            .iter()
            .map(|p| p.weight.bytes())
            .sum::<usize>()
        };
        self.embed_tokens.bytes() + head + self.layers.iter().map(layer).sum::<usize>()
    }

    pub fn new_cache(&self, capacity: usize) -> CpuCache {
        let c = &self.config;
        let capacity = capacity.min(c.max_position_embeddings);
        let size = c.num_key_value_heads * capacity * c.head_dim();
        CpuCache {
            layers: (0..c.num_hidden_layers)
                .map(|_| (vec![0.0; size], vec![0.0; size]))
                .collect(),
            len: 0,
            capacity,
        }
    }

    /// Runs `ids` at the cache's next positions; the logits of the last one.
    pub fn forward(&self, ids: &[u32], cache: &mut CpuCache) -> Vec<f32> {
        let mut logits = self.forward_batch(&mut [CpuStep { ids, cache }]);
        logits.pop().expect("one sequence")
    }

    /// Runs every step in one pass; the logits of each step's last token, in order.
    pub fn forward_batch(&self, steps: &mut [CpuStep<'_>]) -> Vec<Vec<f32>> {
        let mut guard = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let buffers: &mut Buffers = &mut guard;
        // The whole pass on one of the pool's threads: its parallel steps then split from
        // inside the pool instead of each handing work over from outside and sleeping on it.
        #[cfg(feature = "threads")]
        return rayon::scope(|_| self.pass(steps, buffers));
        #[cfg(not(feature = "threads"))]
        self.pass(steps, buffers)
    }

    fn pass(&self, steps: &mut [CpuStep<'_>], b: &mut Buffers) -> Vec<Vec<f32>> {
        let c = &self.config;
        let (h, d) = (c.hidden_size, c.head_dim());
        let (heads, kv_heads) = (c.num_attention_heads, c.num_key_value_heads);
        let n: usize = steps.iter().map(|s| s.ids.len()).sum();
        let eps = c.rms_norm_eps as f32;
        b.size(n, c);
        b.cos.clear();
        b.sin.clear();
        let ids = steps.iter().flat_map(|s| s.ids);
        for (id, row) in ids.zip(b.x.chunks_exact_mut(h)) {
            self.embed_tokens.row_into(*id as usize, row);
        }
        for step in steps.iter() {
            let (start, len) = (step.cache.len, step.ids.len());
            assert!(
                start + len <= step.cache.capacity,
                "sequence of {} positions overflows its cache of {}",
                start + len,
                step.cache.capacity
            );
            rope::extend_tables(&self.inv_freq, start..start + len, &mut b.cos, &mut b.sin);
        }
        for (l, layer) in self.layers.iter().enumerate() {
            ops::rms_norm(&b.x, &layer.input_layernorm, eps, &mut b.normed);
            let q = Job(&layer.q_proj.weight, &mut b.q);
            let k = Job(&layer.k_proj.weight, &mut b.k);
            let v = Job(&layer.v_proj.weight, &mut b.v);
            matmul(&b.normed, n, [q, k, v], &mut b.prepared);
            for (out, p) in [
                (&mut b.q, &layer.q_proj),
                (&mut b.k, &layer.k_proj),
                (&mut b.v, &layer.v_proj),
            ] {
                if let Some(bias) = &p.bias {
                    ops::add_bias(out, bias);
                }
            }
            for (out, norm) in [(&mut b.q, &layer.q_norm), (&mut b.k, &layer.k_norm)] {
                if let Some(norm) = norm {
                    ops::rms_norm_in_place(out, norm, eps);
                }
            }
            ops::rope(&mut b.q, d, &b.cos, &b.sin);
            ops::rope(&mut b.k, d, &b.cos, &b.sin);
            // Each sequence's rows: its keys and values into its cache, then its attention.
            let (q_width, kv_width) = (heads * d, kv_heads * d);
            let mut row = 0;
            for step in steps.iter_mut() {
                let rows = row..row + step.ids.len();
                let cache = &mut *step.cache;
                let (start, capacity) = (cache.len, cache.capacity);
                let (keys, values) = &mut cache.layers[l];
                let k = &b.k[rows.start * kv_width..rows.end * kv_width];
                let v = &b.v[rows.start * kv_width..rows.end * kv_width];
                // Keys and values are stored per head: [kv_heads, capacity, d].
                for (i, (k, v)) in k
                    .chunks_exact(kv_width)
                    .zip(v.chunks_exact(kv_width))
                    .enumerate()
                {
                    for head in 0..kv_heads {
                        let at = (head * capacity + start + i) * d;
                        keys[at..at + d].copy_from_slice(&k[head * d..(head + 1) * d]);
                        values[at..at + d].copy_from_slice(&v[head * d..(head + 1) * d]);
                    }
                }
                let shape = attention::Shape {
                    heads,
                    kv_heads,
                    capacity,
                    head_dim: d,
                };
                let q = &b.q[rows.start * q_width..rows.end * q_width];
                let out = &mut b.attended[rows.start * q_width..rows.end * q_width];
                attention::attend(q, keys, values, shape, start, out);
                row = rows.end;
            }
            let o = Job(&layer.o_proj.weight, &mut b.projected);
            matmul(&b.attended, n, [o], &mut b.prepared);
            if let Some(bias) = &layer.o_proj.bias {
                ops::add_bias(&mut b.projected, bias);
            }
            ops::add(&mut b.x, &b.projected);

            ops::rms_norm(&b.x, &layer.post_attention_layernorm, eps, &mut b.normed);
            let gate = Job(&layer.gate_proj.weight, &mut b.gate);
            let up = Job(&layer.up_proj.weight, &mut b.up);
            matmul(&b.normed, n, [gate, up], &mut b.prepared);
            ops::swiglu(&mut b.gate, &b.up);
            let down = Job(&layer.down_proj.weight, &mut b.projected);
            matmul(&b.gate, n, [down], &mut b.prepared);
            ops::add(&mut b.x, &b.projected);
        }
        // Each sequence's last row through the final norm and the head, in one product.
        let mut last = 0;
        for (i, step) in steps.iter_mut().enumerate() {
            step.cache.len += step.ids.len();
            last += step.ids.len();
            let row = &b.x[(last - 1) * h..last * h];
            ops::rms_norm(row, &self.norm, eps, &mut b.normed[i * h..(i + 1) * h]);
        }
        let head = self.lm_head.as_ref().unwrap_or(&self.embed_tokens);
        let mut logits = vec![0.0; steps.len() * head.rows];
        let job = Job(head, &mut logits);
        matmul(
            &b.normed[..steps.len() * h],
            steps.len(),
            [job],
            &mut b.prepared,
        );
        match steps.len() {
            1 => vec![logits],
            _ => logits
                .chunks_exact(head.rows)
                .map(<[f32]>::to_vec)
                .collect(),
        }
    }
}

/// One sequence's keys and values per layer (`[kv_heads, capacity, head_dim]` each).
#[derive(Clone)]
pub struct CpuCache {
    layers: Vec<(Vec<f32>, Vec<f32>)>,
    len: usize,
    capacity: usize,
}

impl CpuCache {
    /// Forgets the positions from `len` on; the next pass writes there.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

#[derive(Default)]
struct Buffers {
    x: Vec<f32>,
    normed: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attended: Vec<f32>,
    projected: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
    prepared: PreparedInput,
}

impl Buffers {
    /// Sizes every buffer for `n` rows; once a pass of `n` rows ran, this allocates nothing.
    fn size(&mut self, n: usize, c: &ModelConfig) {
        let (q, kv) = (
            c.num_attention_heads * c.head_dim(),
            c.num_key_value_heads * c.head_dim(),
        );
        let (h, im) = (c.hidden_size, c.intermediate_size);
        for (buffer, width) in [
            (&mut self.x, h),
            (&mut self.normed, h),
            (&mut self.q, q),
            (&mut self.k, kv),
            (&mut self.v, kv),
            (&mut self.attended, q),
            (&mut self.projected, h),
            (&mut self.gate, im),
            (&mut self.up, im),
        ] {
            buffer.resize(n * width, 0.0);
        }
    }
}
