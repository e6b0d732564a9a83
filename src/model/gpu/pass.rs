//! One forward pass as a fixed list of kernel launches, and the per-sequence buffers it runs
//! on. The list is built once per model; each sequence binds it to its own buffers once, so a
//! decoded token records the same launches into one command buffer, submits it once, and
//! creates nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::context::{Gpu, Kernel};
use super::shader::ARGMAX_PARTS;

/// Tokens one pass runs at most; a longer prompt runs in several.
pub const CHUNK: usize = 128;
/// Tokens per workgroup in a prefill matrix product (a decode product runs one).
pub const PREFILL_TILE: usize = 8;

/// A buffer a launch binds: the model's own, or one of the sequence's.
#[derive(Clone)]
pub enum Slot {
    Model(wgpu::Buffer),
    Step,
    Tables,
    X,
    Normed,
    Qkv,
    Attended,
    Act,
    Logits,
    Pairs,
    Id,
    Keys(usize),
    Values(usize),
}

/// How many workgroups a launch takes for a pass of `n` tokens.
#[derive(Clone, Copy)]
pub enum Grid {
    /// One per token.
    Tokens,
    /// Exactly this many.
    Fixed(u32),
    /// One per `per_group` output rows and tile of tokens.
    Rows { rows: usize, per_group: usize },
    /// One per (head, token).
    Heads(usize),
    /// [`Grid::Rows`] for the pass's last token only (lm_head).
    LastToken { rows: usize, per_group: usize },
}

impl Grid {
    fn size(self, n: usize) -> (u32, u32, u32) {
        match self {
            Self::Tokens => (n as u32, 1, 1),
            Self::Fixed(x) => (x, 1, 1),
            Self::Rows { rows, per_group } => {
                let tile = if n > 1 { PREFILL_TILE } else { 1 };
                let groups = rows.div_ceil(per_group);
                let (x, fold) = (groups.min(32768), groups.div_ceil(32768));
                (x as u32, fold as u32, n.div_ceil(tile) as u32)
            }
            Self::Heads(heads) => (heads as u32, n as u32, 1),
            Self::LastToken { rows, per_group } => Self::Rows { rows, per_group }.size(1),
        }
    }
}

pub struct Launch {
    /// For a decode pass (one token) and a longer one; the same kernel where they agree.
    pub kernels: [Arc<Kernel>; 2],
    pub bindings: Vec<(u32, Slot)>,
    pub grid: Grid,
}

/// The model's launches: the layers run for every chunk of a pass, the head (final norm,
/// lm_head, argmax) only for the last.
pub struct Program {
    pub layers: Vec<Launch>,
    pub head: Vec<Launch>,
}

/// Buffer sizes a sequence needs, in f32s per token unless noted.
#[derive(Clone, Copy)]
pub struct Widths {
    pub hidden: usize,
    pub qkv: usize,
    pub attended: usize,
    pub act: usize,
    /// Per position and layer, keys (and as many values).
    pub kv: usize,
    pub vocab: usize,
    pub half_head: usize,
    pub layers: usize,
}

/// The shared parts a sequence needs to bind and clone itself.
pub struct Shared {
    pub gpu: Arc<Gpu>,
    pub program: Program,
    pub widths: Widths,
}

/// One sequence on the GPU: its key/value cache (preallocated for `capacity` positions,
/// written in place), its activations, and its launches bound to them.
pub struct GpuCache {
    shared: Arc<Shared>,
    pub(super) len: usize,
    pub(super) capacity: usize,
    buffers: Buffers,
    layer_groups: Vec<wgpu::BindGroup>,
    head_groups: Vec<wgpu::BindGroup>,
    /// Whether `upload` is mapped for writing (it is mapped again after each submission).
    upload_ready: Arc<AtomicBool>,
    /// Passes run so far: logits read after a later pass would be another position's.
    pub(super) passes: Arc<AtomicU64>,
}

#[derive(Clone)]
pub(super) struct Buffers {
    step: wgpu::Buffer,
    tables: wgpu::Buffer,
    upload: wgpu::Buffer,
    x: wgpu::Buffer,
    normed: wgpu::Buffer,
    qkv: wgpu::Buffer,
    attended: wgpu::Buffer,
    act: wgpu::Buffer,
    pub(super) logits: wgpu::Buffer,
    pairs: wgpu::Buffer,
    id: wgpu::Buffer,
    pub(super) id_readback: wgpu::Buffer,
    pub(super) row_readback: wgpu::Buffer,
    keys: Vec<wgpu::Buffer>,
    values: Vec<wgpu::Buffer>,
}

const STEP_BYTES: u64 = 16;

fn tables_bytes(w: &Widths) -> u64 {
    ((CHUNK + 2 * CHUNK * w.half_head) * 4) as u64
}

impl Buffers {
    fn new(gpu: &Gpu, w: &Widths, capacity: usize) -> Self {
        use wgpu::BufferUsages as U;
        let storage = U::STORAGE | U::COPY_DST | U::COPY_SRC;
        let f32s = |label, n: usize| gpu.buffer(label, (n * 4) as u64, storage);
        let rows = |label, width: usize| f32s(label, CHUNK * width);
        Self {
            step: gpu.buffer("step", STEP_BYTES, U::UNIFORM | U::COPY_DST),
            tables: gpu.buffer("tables", tables_bytes(w), U::STORAGE | U::COPY_DST),
            upload: gpu.buffer(
                "upload",
                STEP_BYTES + tables_bytes(w),
                U::MAP_WRITE | U::COPY_SRC,
            ),
            x: rows("x", w.hidden),
            normed: rows("normed", w.hidden),
            qkv: rows("qkv", w.qkv),
            attended: rows("attended", w.attended),
            act: rows("act", w.act),
            logits: f32s("logits", w.vocab),
            pairs: f32s("pairs", 2 * ARGMAX_PARTS as usize),
            id: f32s("id", 1),
            id_readback: gpu.buffer("id readback", 4, U::MAP_READ | U::COPY_DST),
            row_readback: gpu.buffer(
                "logits readback",
                (w.vocab * 4) as u64,
                U::MAP_READ | U::COPY_DST,
            ),
            keys: (0..w.layers)
                .map(|_| f32s("keys", capacity * w.kv))
                .collect(),
            values: (0..w.layers)
                .map(|_| f32s("values", capacity * w.kv))
                .collect(),
        }
    }

    fn slot(&self, slot: &Slot) -> wgpu::Buffer {
        match slot {
            Slot::Model(b) => b.clone(),
            Slot::Step => self.step.clone(),
            Slot::Tables => self.tables.clone(),
            Slot::X => self.x.clone(),
            Slot::Normed => self.normed.clone(),
            Slot::Qkv => self.qkv.clone(),
            Slot::Attended => self.attended.clone(),
            Slot::Act => self.act.clone(),
            Slot::Logits => self.logits.clone(),
            Slot::Pairs => self.pairs.clone(),
            Slot::Id => self.id.clone(),
            Slot::Keys(l) => self.keys[*l].clone(),
            Slot::Values(l) => self.values[*l].clone(),
        }
    }
}

fn bind(gpu: &Gpu, buffers: &Buffers, launches: &[Launch]) -> Vec<wgpu::BindGroup> {
    launches
        .iter()
        .map(|launch| {
            let held: Vec<_> = launch
                .bindings
                .iter()
                .map(|(b, slot)| (*b, buffers.slot(slot)))
                .collect();
            let entries: Vec<_> = held
                .iter()
                .map(|(binding, buffer)| wgpu::BindGroupEntry {
                    binding: *binding,
                    resource: buffer.as_entire_binding(),
                })
                .collect();
            gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &launch.kernels[0].layout,
                entries: &entries,
            })
        })
        .collect()
}

/// What a pass uploads: its ids and their RoPE tables.
pub struct Inputs<'a> {
    pub ids: &'a [u32],
    pub cos: &'a [f32],
    pub sin: &'a [f32],
}

impl GpuCache {
    /// Forgets the positions from `len` on; the next pass writes there.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub fn new(shared: Arc<Shared>, capacity: usize) -> Self {
        let buffers = Buffers::new(&shared.gpu, &shared.widths, capacity);
        Self::bound(shared, buffers, 0, capacity)
    }

    fn bound(shared: Arc<Shared>, buffers: Buffers, len: usize, capacity: usize) -> Self {
        let gpu = &shared.gpu;
        let layer_groups = bind(gpu, &buffers, &shared.program.layers);
        let head_groups = bind(gpu, &buffers, &shared.program.head);
        let upload_ready = Arc::new(AtomicBool::new(false));
        map_for_writing(&buffers.upload, &upload_ready);
        Self {
            layer_groups,
            head_groups,
            buffers,
            len,
            capacity,
            upload_ready,
            passes: Arc::default(),
            shared,
        }
    }

    pub(super) fn gpu(&self) -> &Arc<Gpu> {
        &self.shared.gpu
    }

    pub(super) fn buffers(&self) -> &Buffers {
        &self.buffers
    }

    /// Runs one pass of at most `CHUNK` tokens at the cache's next positions; with `head`,
    /// through lm_head and the argmax too, whose id is copied out for reading. One
    /// submission.
    pub fn run(&mut self, inputs: Inputs<'_>, head: bool) {
        let n = inputs.ids.len();
        debug_assert!(n > 0 && n <= CHUNK && self.len + n <= self.capacity);
        let w = self.shared.widths;
        let step = [n as u32, self.len as u32, self.capacity as u32, 0];
        let gpu = self.shared.gpu.clone();
        let b = &self.buffers;
        let mut encoder = gpu.encoder();
        // ids at 0, cos at CHUNK, sin at CHUNK * (1 + half) (rope.wgsl).
        let pieces: [(u64, &[u8]); 3] = [
            (0, bytemuck::cast_slice(inputs.ids)),
            ((CHUNK * 4) as u64, bytemuck::cast_slice(inputs.cos)),
            (
                (CHUNK * (1 + w.half_head) * 4) as u64,
                bytemuck::cast_slice(inputs.sin),
            ),
        ];
        // Only a consumed mapping is asked for again: one still pending (in a browser, until
        // the page's event loop turns) must not be mapped twice.
        // A lost device refuses its mapping: the queue takes the inputs then (and ignores them),
        // and the readback reports the loss.
        let mut remap = false;
        let mapped = match self.wait_for_upload() {
            true => b.upload.get_mapped_range_mut(..).ok(),
            false => None,
        };
        if let Some(mut view) = mapped {
            view.slice(..16)
                .copy_from_slice(bytemuck::cast_slice(&step));
            for (at, bytes) in pieces {
                let at = STEP_BYTES as usize + at as usize;
                view.slice(at..at + bytes.len()).copy_from_slice(bytes);
            }
            drop(view);
            b.upload.unmap();
            encoder.copy_buffer_to_buffer(&b.upload, 0, &b.step, 0, STEP_BYTES);
            for (at, bytes) in pieces {
                let len = bytes.len() as u64;
                encoder.copy_buffer_to_buffer(&b.upload, STEP_BYTES + at, &b.tables, at, len);
            }
            remap = true;
        } else {
            gpu.queue
                .write_buffer(&b.step, 0, bytemuck::cast_slice(&step));
            for (at, bytes) in pieces {
                gpu.queue.write_buffer(&b.tables, at, bytes);
            }
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            let program = &self.shared.program;
            let mut record = |launches: &[Launch], groups: &[wgpu::BindGroup]| {
                for (launch, group) in launches.iter().zip(groups) {
                    pass.set_pipeline(&launch.kernels[usize::from(n > 1)].pipeline);
                    pass.set_bind_group(0, group, &[]);
                    let (x, y, z) = launch.grid.size(n);
                    pass.dispatch_workgroups(x, y, z);
                    gpu.count_dispatch();
                }
            };
            record(&program.layers, &self.layer_groups);
            if head {
                record(&program.head, &self.head_groups);
            }
        }
        if head {
            encoder.copy_buffer_to_buffer(&b.id, 0, &b.id_readback, 0, 4);
        }
        gpu.submit(encoder);
        self.passes.fetch_add(1, Ordering::Release);
        self.len += n;
        if remap {
            // The last mapping's callback has run, so the flag can be reused.
            self.upload_ready.store(false, Ordering::Release);
            map_for_writing(&b.upload, &self.upload_ready);
        }
    }

    /// Whether the upload buffer is mapped, waiting for it natively; in a browser, where
    /// nothing may block, the caller writes through the queue instead when it is not yet.
    fn wait_for_upload(&self) -> bool {
        #[cfg(not(target_family = "wasm"))]
        if !self.upload_ready.load(Ordering::Acquire) {
            let _ = self
                .shared
                .gpu
                .device
                .poll(wgpu::PollType::wait_indefinitely());
        }
        self.upload_ready.load(Ordering::Acquire)
    }
}

/// Maps the upload buffer for the next pass's inputs once the GPU is done with it.
fn map_for_writing(upload: &wgpu::Buffer, ready: &Arc<AtomicBool>) {
    let ready = ready.clone();
    upload.map_async(wgpu::MapMode::Write, .., move |result| {
        ready.store(result.is_ok(), Ordering::Release);
    });
}

impl Clone for GpuCache {
    /// A copy of the keys and values so far, in buffers of its own (n > 1 answers each
    /// decode from the prompt's cache).
    fn clone(&self) -> Self {
        let gpu = &self.shared.gpu;
        let buffers = Buffers::new(gpu, &self.shared.widths, self.capacity);
        let mut encoder = gpu.encoder();
        for (from, to) in [
            (&self.buffers.keys, &buffers.keys),
            (&self.buffers.values, &buffers.values),
        ] {
            for (a, b) in from.iter().zip(to) {
                encoder.copy_buffer_to_buffer(a, 0, b, 0, None);
            }
        }
        gpu.submit(encoder);
        Self::bound(self.shared.clone(), buffers, self.len, self.capacity)
    }
}
