//! The GPU the network runs on: a wgpu device and queue (natively burn's own, so one process
//! holds one device; in the browser one hearth opens), what hearth creates and launches on it counted where it happens, and the
//! compiled kernels.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use super::shader::Source;
use crate::model::{DeviceError, GpuKernels};

/// What hearth has done on its GPUs since the process started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GpuCounts {
    /// Compute dispatches recorded.
    pub dispatches: u64,
    /// Queue submissions.
    pub submissions: u64,
    /// Bytes mapped back to the host.
    pub readback_bytes: u64,
    /// Buffers created.
    pub allocations: u64,
}

impl GpuCounts {
    pub fn since(self, earlier: Self) -> Self {
        Self {
            dispatches: self.dispatches - earlier.dispatches,
            submissions: self.submissions - earlier.submissions,
            readback_bytes: self.readback_bytes - earlier.readback_bytes,
            allocations: self.allocations - earlier.allocations,
        }
    }
}

#[derive(Default)]
struct Counters {
    dispatches: AtomicU64,
    submissions: AtomicU64,
    readback_bytes: AtomicU64,
    allocations: AtomicU64,
}

/// How a kernel uses one binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    Uniform,
    Read,
    Write,
}

/// A kernel's bindings, by number.
pub type Signature = Vec<(u32, Access)>;

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// The largest buffer one binding may hold.
    pub max_binding: u64,
    /// The adapter, as a person would name it: "llvmpipe (Vulkan)".
    pub name: String,
    /// The subgroup width, where the device has subgroups and the adapter commits to one
    /// width (the matrix products then reduce within a subgroup instead of through
    /// workgroup memory).
    pub subgroup: Option<usize>,
    /// burn's tensor ops instead of ours, for comparing the two.
    burn_kernels: std::sync::atomic::AtomicBool,
    /// Why the device was lost (wgpu says so once, through its callback), once it was.
    lost: Arc<OnceLock<String>>,
    counters: Counters,
    layouts: Mutex<HashMap<Signature, Arc<wgpu::BindGroupLayout>>>,
    pipelines: Mutex<HashMap<(String, &'static str), Arc<Kernel>>>,
}

/// A compiled kernel and the layout its bindings take.
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: Arc<wgpu::BindGroupLayout>,
}

/// What an opened wgpu device can do, as the loader needs it.
#[derive(Debug, Clone)]
pub struct GpuInfo {
    /// The adapter's name and backend, e.g. "llvmpipe (Vulkan)".
    pub adapter: String,
    /// The largest storage buffer one binding holds (and one buffer may be).
    pub max_buffer_bytes: u64,
    pub shader_f16: bool,
    /// A CPU pretending to be a GPU (lavapipe, SwiftShader, WARP): tens of times slower
    /// than the CPU network, so used only when asked for by name.
    pub software: bool,
}

impl Gpu {
    /// The network's view of a device opened on `adapter`.
    pub fn open(
        adapter: &wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
    ) -> (Self, GpuInfo) {
        let limits = device.limits();
        let max_buffer_bytes = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let info = adapter.get_info();
        let name = match info.name.as_str() {
            "" => format!("{:?}", info.backend),
            name => format!("{name} ({:?})", info.backend),
        };
        let features = device.features();
        // The kernels' subgroup paths assume one subgroup width.
        let width = info.subgroup_min_size as usize;
        let one_width = info.subgroup_max_size as usize == width && (4..=64).contains(&width);
        let subgroup = (features.contains(wgpu::Features::SUBGROUP) && one_width).then_some(width);
        let gpu_info = GpuInfo {
            adapter: name.clone(),
            max_buffer_bytes,
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            software: info.device_type == wgpu::DeviceType::Cpu,
        };
        (
            Self::new(device, queue, max_buffer_bytes, (name, subgroup)),
            gpu_info,
        )
    }

    fn new(
        device: wgpu::Device,
        queue: wgpu::Queue,
        max_binding: u64,
        (name, subgroup): (String, Option<usize>),
    ) -> Self {
        Self {
            device,
            queue,
            max_binding,
            name,
            subgroup,
            burn_kernels: Default::default(),
            lost: Arc::default(),
            counters: Counters::default(),
            layouts: Mutex::default(),
            pipelines: Mutex::default(),
        }
    }

    /// The same device, with counts of its own and buffers of at most `max_binding` bytes
    /// (as on an adapter whose buffers are smaller).
    pub fn limited(&self, max_binding: u64) -> Arc<Self> {
        let gpu = Self::new(
            self.device.clone(),
            self.queue.clone(),
            max_binding.min(self.max_binding),
            (self.name.clone(), self.subgroup),
        );
        Arc::new(Self {
            lost: self.lost.clone(),
            ..gpu
        })
    }

    /// Records the device's loss when wgpu reports it, and tells `also`. Only where wgpu
    /// adds callbacks (WebGPU): natively a new one would replace burn's own.
    #[cfg(target_family = "wasm")]
    pub fn watch_loss(&self, also: fn(&str)) {
        let lost = self.lost.clone();
        self.device
            .set_device_lost_callback(move |reason, message| {
                let why = format!("{reason:?}: {message}");
                also(&why);
                let _ = lost.set(why);
            });
    }

    /// Why the device was lost, once it was.
    pub fn lost(&self) -> Option<&str> {
        self.lost.get().map(String::as_str)
    }

    /// What networks on this value did so far.
    pub fn counts(&self) -> GpuCounts {
        let c = &self.counters;
        GpuCounts {
            dispatches: c.dispatches.load(Relaxed),
            submissions: c.submissions.load(Relaxed),
            readback_bytes: c.readback_bytes.load(Relaxed),
            allocations: c.allocations.load(Relaxed),
        }
    }

    pub(super) fn count_dispatch(&self) {
        self.counters.dispatches.fetch_add(1, Relaxed);
    }

    /// The same device without subgroup operations (as on most browsers' WebGPU).
    pub fn without_subgroups(&self) -> Arc<Self> {
        Arc::new(Self::new(
            self.device.clone(),
            self.queue.clone(),
            self.max_binding,
            (self.name.clone(), None),
        ))
    }

    /// Which kernels a network loaded on this device runs.
    pub fn kernels(&self) -> GpuKernels {
        match self.burn_kernels.load(Relaxed) {
            true => GpuKernels::Burn,
            false => GpuKernels::Hearth,
        }
    }

    pub fn set_kernels(&self, kernels: GpuKernels) {
        self.burn_kernels
            .store(kernels == GpuKernels::Burn, Relaxed);
    }

    pub fn buffer(&self, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.counters.allocations.fetch_add(1, Relaxed);
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            // Zero-sized bindings are invalid; an absent part is one word.
            size: size.max(4).next_multiple_of(4),
            usage,
            mapped_at_creation: false,
        })
    }

    /// A storage buffer holding `bytes` (padded to whole words).
    pub fn upload(&self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let buffer = self.buffer(label, bytes.len() as u64, usage);
        self.write(&buffer, 0, bytes);
        buffer
    }

    /// Writes `bytes` at `offset`, padding a partial last word with zeros.
    pub fn write(&self, buffer: &wgpu::Buffer, offset: u64, bytes: &[u8]) {
        match bytes.len() % 4 {
            0 => self.queue.write_buffer(buffer, offset, bytes),
            r => {
                let whole = bytes.len() - r;
                self.queue.write_buffer(buffer, offset, &bytes[..whole]);
                let mut tail = [0u8; 4];
                tail[..r].copy_from_slice(&bytes[whole..]);
                self.queue
                    .write_buffer(buffer, offset + whole as u64, &tail);
            }
        }
    }

    pub fn submit(&self, encoder: wgpu::CommandEncoder) {
        self.counters.submissions.fetch_add(1, Relaxed);
        self.queue.submit([encoder.finish()]);
    }

    pub fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default())
    }

    /// The kernel `entry` of `source`, compiled once.
    pub fn kernel(&self, source: &Source, entry: &'static str) -> Arc<Kernel> {
        let key = (source.text.clone(), entry);
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kernel) = pipelines.get(&key) {
            return kernel.clone();
        }
        let layout = self.layout(&source.signature);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(source.name),
                source: wgpu::ShaderSource::Wgsl(source.text.as_str().into()),
            });
        let pipeline_layout = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(source.name),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(source.name),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
        let kernel = Arc::new(Kernel { pipeline, layout });
        pipelines.insert(key, kernel.clone());
        kernel
    }

    fn layout(&self, signature: &Signature) -> Arc<wgpu::BindGroupLayout> {
        let mut layouts = self.layouts.lock().unwrap_or_else(|e| e.into_inner());
        let entry = layouts.entry(signature.clone()).or_insert_with(|| {
            let entries: Vec<_> = signature
                .iter()
                .map(|&(binding, access)| wgpu::BindGroupLayoutEntry {
                    binding,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: match access {
                            Access::Uniform => wgpu::BufferBindingType::Uniform,
                            Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
                            Access::Write => wgpu::BufferBindingType::Storage { read_only: false },
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                })
                .collect();
            Arc::new(
                self.device
                    .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: None,
                        entries: &entries,
                    }),
            )
        });
        entry.clone()
    }

    /// Maps `buffer` for reading, waits until it is, and hands its first `len` bytes to
    /// `read`. The only place the host waits on the GPU.
    pub async fn read<T>(
        &self,
        buffer: &wgpu::Buffer,
        len: u64,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, DeviceError> {
        let readback = |e: &dyn std::fmt::Display| match self.lost() {
            Some(why) => DeviceError::Lost(why.to_string()),
            None => DeviceError::Readback(e.to_string()),
        };
        let (sender, receiver) = async_channel::bounded(1);
        buffer.map_async(wgpu::MapMode::Read, ..len, move |result| {
            let _ = sender.try_send(result);
        });
        #[cfg(not(target_family = "wasm"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| readback(&e))?;
        receiver
            .recv()
            .await
            .map_err(|_| DeviceError::Dropped)?
            .map_err(|e| readback(&e))?;
        self.counters.readback_bytes.fetch_add(len, Relaxed);
        let value = {
            let view = buffer.get_mapped_range(..len).map_err(|e| readback(&e))?;
            read(&view)
        };
        buffer.unmap();
        Ok(value)
    }
}
