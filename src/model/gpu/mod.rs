//! The decoder on a GPU through our own kernels (WGSL on a wgpu device): weights in the
//! CPU kernels' formats, dequantized in registers; each layer is eight launches (norm, q/k/v
//! product with bias, norm+RoPE+cache append, attention, output product with the residual,
//! norm, gate/up product with SwiGLU, down product with the residual), and the head five
//! (embedding, final norm, lm_head, a two-step argmax). A greedy token submits once and reads
//! back 4 bytes.

mod context;
mod logits;
mod matrix;
mod pass;
mod shader;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

pub use context::{Gpu, GpuCounts, GpuInfo};
pub use logits::GpuLogits;
use matrix::GpuMatrix;
pub use pass::GpuCache;
use pass::{CHUNK, Grid, Inputs, Launch, PREFILL_TILE, Program, Shared, Slot, Widths};
use shader::{ARGMAX_PARTS, Epilogue, Heads};

use super::architecture::{LayerTensor, TensorId};
use super::cpu::Matrix;
use super::layout::{self, Layer, Store};
use super::{LoadError, ModelConfig, Precision, Weights, rope};

pub struct GpuNetwork {
    config: ModelConfig,
    shared: Arc<Shared>,
    inv_freq: Vec<f32>,
    precision: Precision,
    weight_bytes: u64,
}

/// The products that run as one: q/k/v, and gate/up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Stack {
    Qkv,
    GateUp,
}

/// Uploads each tensor as the walk reads it, so the host holds at most one converted tensor;
/// the members of a stacked product are written into their rows of one buffer.
struct GpuStore<'a> {
    weights: &'a Weights,
    precision: Precision,
    config: &'a ModelConfig,
    gpu: &'a Gpu,
    stacks: RefCell<HashMap<(usize, Stack), GpuMatrix>>,
}

impl GpuStore<'_> {
    /// The stack a layer tensor joins and its first row there.
    fn stack_of(&self, id: TensorId) -> Option<(usize, Stack, usize, usize)> {
        let c = self.config;
        let (q, kv) = (
            c.num_attention_heads * c.head_dim(),
            c.num_key_value_heads * c.head_dim(),
        );
        let im = c.intermediate_size;
        match id {
            TensorId::Layer(i, t) => match t {
                LayerTensor::Q => Some((i, Stack::Qkv, 0, q + 2 * kv)),
                LayerTensor::K => Some((i, Stack::Qkv, q, q + 2 * kv)),
                LayerTensor::V => Some((i, Stack::Qkv, q + kv, q + 2 * kv)),
                LayerTensor::Gate => Some((i, Stack::GateUp, 0, 2 * im)),
                LayerTensor::Up => Some((i, Stack::GateUp, im, 2 * im)),
                _ => None,
            },
            _ => None,
        }
    }

    fn host(
        &self,
        id: TensorId,
        shape: [usize; 2],
        precision: Precision,
    ) -> Result<Matrix, LoadError> {
        self.weights.with_raw(id, &shape, |raw, blob| {
            let m = Matrix::from_raw(raw, blob, shape, precision)?;
            matrix::check_shape(&m)?;
            Ok(m)
        })
    }

    fn too_large(&self, tensor: String, bytes: u64) -> Result<(), LoadError> {
        match bytes > self.gpu.max_binding {
            true => Err(LoadError::TooLarge {
                tensor,
                bytes,
                limit: self.gpu.max_binding,
            }),
            false => Ok(()),
        }
    }
}

impl Store for GpuStore<'_> {
    /// A stacked product's members all return the whole stack.
    type Matrix = GpuMatrix;
    type Vector = Vec<f32>;

    fn matrix(&self, id: TensorId, shape: [usize; 2]) -> Result<GpuMatrix, LoadError> {
        let m = self.host(id, shape, self.precision)?;
        let Some((layer, stack, row0, rows)) = self.stack_of(id) else {
            let gpu_matrix = GpuMatrix::upload(self.gpu, &id.name(), &m);
            self.too_large(id.name(), gpu_matrix.largest_part_bytes())?;
            return Ok(gpu_matrix);
        };
        let mut stacks = self.stacks.borrow_mut();
        let stacked = stacks.entry((layer, stack)).or_insert_with(|| {
            GpuMatrix::stacked(self.gpu, &id.name(), matrix::format_of(&m), [rows, m.cols])
        });
        self.too_large(id.name(), stacked.largest_part_bytes())?;
        stacked
            .write_rows(self.gpu, row0, &m)
            .map_err(|source| LoadError::Tensor {
                file: "the checkpoint".into(),
                tensor: id.name(),
                source,
            })?;
        Ok(stacked.clone())
    }

    fn vector(&self, id: TensorId, len: usize) -> Result<Vec<f32>, LoadError> {
        self.weights
            .with_raw(id, &[len], |raw, _| Ok(super::cpu::to_f32(raw)))
    }
}

impl GpuNetwork {
    pub fn load(
        config: ModelConfig,
        weights: &Weights,
        gpu: Arc<Gpu>,
        precision: Precision,
    ) -> Result<Self, LoadError> {
        let c = &config;
        let store = GpuStore {
            weights,
            precision,
            config: c,
            gpu: &gpu,
            stacks: RefCell::default(),
        };
        let layers = layout::layers(c, &store)?;
        let vocab = |id| {
            store.host(
                id,
                [c.vocab_size, c.hidden_size],
                precision.for_vocabulary(),
            )
        };
        let (embed, lm_head) = layout::vocabulary(
            c,
            |id| weights.contains(id),
            |id| vocab(id).map(|m| GpuMatrix::upload(&gpu, &id.name(), &m)),
        )?;
        let norm = store.vector(TensorId::FinalNorm, c.hidden_size)?;
        let builder = Builder {
            gpu: &gpu,
            config: c,
        };
        let weight_bytes = layers.iter().map(layer_bytes).sum::<u64>()
            + matrix_bytes(&embed)
            + lm_head.as_ref().map_or(0, matrix_bytes);
        let program = builder.program(&layers, &embed, lm_head.as_ref(), &norm);
        let widths = Widths {
            hidden: c.hidden_size,
            qkv: (c.num_attention_heads + 2 * c.num_key_value_heads) * c.head_dim(),
            attended: c.num_attention_heads * c.head_dim(),
            act: c.intermediate_size,
            kv: c.num_key_value_heads * c.head_dim(),
            vocab: c.vocab_size,
            half_head: c.head_dim() / 2,
            layers: c.num_hidden_layers,
        };
        tracing::debug!(
            launches_per_token = program.layers.len() + program.head.len(),
            "gpu network"
        );
        Ok(Self {
            inv_freq: rope::inv_freq(c.head_dim(), &c.rope),
            shared: Arc::new(Shared {
                gpu,
                program,
                widths,
            }),
            precision,
            weight_bytes,
            config,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The adapter, as a person would name it.
    pub fn adapter(&self) -> &str {
        &self.shared.gpu.name
    }

    /// What this network's device did so far (see [`Gpu::counts`]).
    pub fn counts(&self) -> GpuCounts {
        self.shared.gpu.counts()
    }

    /// The bytes the weights take on the device.
    pub fn weight_bytes(&self) -> u64 {
        self.weight_bytes
    }

    pub fn new_cache(&self, capacity: usize) -> GpuCache {
        let capacity = capacity.min(self.config.max_position_embeddings);
        GpuCache::new(self.shared.clone(), capacity)
    }

    /// Runs `ids` at the cache's next positions, `CHUNK` at a time; the last position's
    /// logits stay on the device.
    pub fn forward(&self, ids: &[u32], cache: &mut GpuCache) -> GpuLogits {
        assert!(
            cache.len + ids.len() <= cache.capacity,
            "sequence of {} positions overflows its cache of {}",
            cache.len + ids.len(),
            cache.capacity
        );
        let (mut cos, mut sin) = (Vec::new(), Vec::new());
        let chunks = ids.chunks(CHUNK);
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.enumerate() {
            let start = cache.len;
            rope::tables(
                &self.inv_freq,
                start..start + chunk.len(),
                &mut cos,
                &mut sin,
            );
            let inputs = Inputs {
                ids: chunk,
                cos: &cos,
                sin: &sin,
            };
            cache.run(inputs, i == last);
        }
        GpuLogits::new(cache)
    }
}

fn matrix_bytes(m: &GpuMatrix) -> u64 {
    m.parts
        .iter()
        .map(|p| p.weights.size() + p.scales.as_ref().map_or(0, |s| s.size()))
        .sum()
}

fn layer_bytes(l: &Layer<GpuMatrix, Vec<f32>>) -> u64 {
    [&l.q_proj, &l.o_proj, &l.gate_proj, &l.down_proj]
        .iter()
        .map(|p| matrix_bytes(&p.weight))
        .sum()
}

/// Builds the launch list for one model.
struct Builder<'a> {
    gpu: &'a Gpu,
    config: &'a ModelConfig,
}

impl Builder<'_> {
    fn vector(&self, label: &str, v: &[f32]) -> Slot {
        Slot::Model(self.gpu.upload(label, bytemuck::cast_slice(v)))
    }

    fn heads(&self) -> Heads {
        Heads {
            heads: self.config.num_attention_heads,
            kv_heads: self.config.num_key_value_heads,
            head_dim: self.config.head_dim(),
        }
    }

    fn once(&self, source: shader::Source, entry: &'static str) -> [Arc<context::Kernel>; 2] {
        let kernel = self.gpu.kernel(&source, entry);
        [kernel.clone(), kernel]
    }

    fn norm(&self, weight: Slot, input: Slot, output: Slot, last: bool) -> Launch {
        let c = self.config;
        Launch {
            kernels: self.once(
                shader::rms_norm(c.hidden_size, c.rms_norm_eps, last),
                "main",
            ),
            bindings: vec![(0, Slot::Step), (1, input), (2, weight), (3, output)],
            grid: if last { Grid::Fixed(1) } else { Grid::Tokens },
        }
    }

    /// `out (+)= m . input` for each part of `m`, as `out_width`-wide rows.
    fn products(
        &self,
        m: &GpuMatrix,
        input: Slot,
        (output, out_width): (Slot, usize),
        bias: Option<Slot>,
        epilogue: Epilogue,
        tiles: [usize; 2],
    ) -> Vec<Launch> {
        let rows_out = |rows: usize| if epilogue.pair { rows / 2 } else { rows };
        m.parts
            .iter()
            .map(|part| {
                let kernel = |tile| {
                    let shape = [rows_out(part.rows), m.cols];
                    let out = (out_width, part.row0);
                    let subgroup = self.gpu.subgroup;
                    let source = shader::matmul(m.format, shape, out, tile, epilogue, subgroup);
                    self.gpu.kernel(&source, "main")
                };
                let mut bindings = vec![
                    (0, Slot::Step),
                    (1, Slot::Model(part.weights.clone())),
                    (3, input.clone()),
                    (4, output.clone()),
                ];
                if let Some(scales) = &part.scales {
                    bindings.push((2, Slot::Model(scales.clone())));
                }
                if let Some(bias) = &bias {
                    bindings.push((5, bias.clone()));
                }
                Launch {
                    kernels: tiles.map(kernel),
                    bindings,
                    grid: Grid::Rows {
                        rows: rows_out(part.rows),
                        per_group: shader::rows_per_workgroup(m.cols, self.gpu.subgroup),
                    },
                }
            })
            .collect()
    }

    fn program(
        &self,
        layers: &[Layer<GpuMatrix, Vec<f32>>],
        embed: &GpuMatrix,
        lm_head: Option<&GpuMatrix>,
        norm: &[f32],
    ) -> Program {
        let c = self.config;
        let h = c.hidden_size;
        let heads = self.heads();
        let qkv_width = (heads.heads + 2 * heads.kv_heads) * heads.head_dim;
        let tiles = [1, PREFILL_TILE];
        let plain = Epilogue {
            bias: false,
            residual: false,
            pair: false,
        };
        let mut launches: Vec<Launch> = embed
            .parts
            .iter()
            .map(|part| {
                let source = shader::embed(embed.format, part.row0, [part.rows, embed.cols]);
                let mut bindings = vec![
                    (0, Slot::Step),
                    (1, Slot::Model(part.weights.clone())),
                    (4, Slot::X),
                    (6, Slot::Tables),
                ];
                if let Some(scales) = &part.scales {
                    bindings.push((2, Slot::Model(scales.clone())));
                }
                Launch {
                    kernels: self.once(source, "main"),
                    bindings,
                    grid: Grid::Tokens,
                }
            })
            .collect();
        for (i, l) in layers.iter().enumerate() {
            let input_norm = self.vector("input_layernorm", &l.input_layernorm);
            launches.push(self.norm(input_norm, Slot::X, Slot::Normed, false));
            let qkv_bias = stacked_bias(l, heads).map(|b| self.vector("qkv bias", &b));
            let with_bias = Epilogue {
                bias: qkv_bias.is_some(),
                ..plain
            };
            launches.extend(self.products(
                &l.q_proj.weight,
                Slot::Normed,
                (Slot::Qkv, qkv_width),
                qkv_bias,
                with_bias,
                tiles,
            ));
            let qk_norm = match (&l.q_norm, &l.k_norm) {
                (Some(q), Some(k)) => Some((self.vector("q_norm", q), self.vector("k_norm", k))),
                _ => None,
            };
            let mut bindings = vec![
                (0, Slot::Step),
                (1, Slot::Qkv),
                (2, Slot::Keys(i)),
                (3, Slot::Values(i)),
                (6, Slot::Tables),
            ];
            if let Some((q, k)) = &qk_norm {
                bindings.extend([(4, q.clone()), (5, k.clone())]);
            }
            let eps = qk_norm.as_ref().map(|_| c.rms_norm_eps);
            launches.push(Launch {
                kernels: self.once(shader::rope(heads, CHUNK, eps), "main"),
                bindings,
                grid: Grid::Heads(heads.heads + 2 * heads.kv_heads),
            });
            launches.push(Launch {
                kernels: self.once(shader::attention(heads), "main"),
                bindings: vec![
                    (0, Slot::Step),
                    (1, Slot::Qkv),
                    (2, Slot::Keys(i)),
                    (3, Slot::Values(i)),
                    (4, Slot::Attended),
                ],
                grid: Grid::Heads(heads.heads),
            });
            let o_bias = l.o_proj.bias.as_ref().map(|b| self.vector("o bias", b));
            let residual = Epilogue {
                bias: o_bias.is_some(),
                residual: true,
                pair: false,
            };
            launches.extend(self.products(
                &l.o_proj.weight,
                Slot::Attended,
                (Slot::X, h),
                o_bias,
                residual,
                tiles,
            ));
            let post_norm = self.vector("post_attention_layernorm", &l.post_attention_layernorm);
            launches.push(self.norm(post_norm, Slot::X, Slot::Normed, false));
            let swiglu = Epilogue {
                pair: true,
                ..plain
            };
            let act = (Slot::Act, c.intermediate_size);
            launches.extend(self.products(
                &l.gate_proj.weight,
                Slot::Normed,
                act,
                None,
                swiglu,
                tiles,
            ));
            let add = Epilogue {
                residual: true,
                ..plain
            };
            launches.extend(self.products(
                &l.down_proj.weight,
                Slot::Act,
                (Slot::X, h),
                None,
                add,
                tiles,
            ));
        }
        let final_norm = self.vector("norm", norm);
        let mut head = vec![self.norm(final_norm, Slot::X, Slot::Normed, true)];
        let head_matrix = lm_head.unwrap_or(embed);
        // The head runs on the last token alone, whatever the pass's length.
        head.extend(self.products(
            head_matrix,
            Slot::Normed,
            (Slot::Logits, c.vocab_size),
            None,
            plain,
            [1, 1],
        ));
        for launch in &mut head[1..] {
            if let Grid::Rows { rows, per_group } = launch.grid {
                launch.grid = Grid::LastToken { rows, per_group };
            }
        }
        let argmax = shader::argmax(c.vocab_size);
        let argmax_bindings = vec![
            (0, Slot::Step),
            (1, Slot::Logits),
            (2, Slot::Pairs),
            (3, Slot::Id),
        ];
        head.push(Launch {
            kernels: self.once(shader::argmax(c.vocab_size), "partial"),
            bindings: argmax_bindings.clone(),
            grid: Grid::Fixed(ARGMAX_PARTS),
        });
        head.push(Launch {
            kernels: self.once(argmax, "finish"),
            bindings: argmax_bindings,
            grid: Grid::Fixed(1),
        });
        Program {
            layers: launches,
            head,
        }
    }
}

/// q, k and v biases as one vector (zeros for a projection without one); `None` when none
/// has a bias.
fn stacked_bias(l: &Layer<GpuMatrix, Vec<f32>>, heads: Heads) -> Option<Vec<f32>> {
    let (q, kv) = (
        heads.heads * heads.head_dim,
        heads.kv_heads * heads.head_dim,
    );
    let parts = [
        (&l.q_proj.bias, q),
        (&l.k_proj.bias, kv),
        (&l.v_proj.bias, kv),
    ];
    if parts.iter().all(|(b, _)| b.is_none()) {
        return None;
    }
    Some(
        parts
            .iter()
            .flat_map(|(b, len)| match b {
                Some(b) => b.clone(),
                None => vec![0.0; *len],
            })
            .collect(),
    )
}
