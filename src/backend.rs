//! Which burn device runs the model: flex on the CPU (everywhere), or wgpu (Vulkan, Metal,
//! DX12 natively; WebGPU in the browser).

#[cfg(feature = "wgpu")]
use std::sync::{Arc, Mutex};

use burn::tensor::Device;

#[cfg(feature = "wgpu")]
use crate::model::gpu::Gpu;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Cpu,
    #[cfg(feature = "wgpu")]
    Wgpu,
    /// wgpu through burn's tensor ops: the baseline hearth's GPU kernels are measured against.
    #[cfg(feature = "wgpu")]
    WgpuBurn,
}

impl Backend {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "cpu" | "flex" => Some(Self::Cpu),
            #[cfg(feature = "wgpu")]
            "wgpu" | "gpu" => Some(Self::Wgpu),
            #[cfg(feature = "wgpu")]
            "wgpu-burn" => Some(Self::WgpuBurn),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            #[cfg(feature = "wgpu")]
            Self::Wgpu => "wgpu",
            #[cfg(feature = "wgpu")]
            Self::WgpuBurn => "wgpu-burn",
        }
    }
}

/// The CPU device.
pub fn cpu() -> Device {
    Device::flex()
}

/// Each initialized GPU device's wgpu handles and limits. burn's `Device` carries neither,
/// so whoever initializes a device records them here for the model loader.
#[cfg(feature = "wgpu")]
static GPUS: Mutex<Vec<(Device, Arc<Gpu>)>> = Mutex::new(Vec::new());

/// The wgpu handles of an initialized GPU device.
#[cfg(feature = "wgpu")]
pub fn gpu_of(device: &Device) -> Option<Arc<Gpu>> {
    let gpus = GPUS.lock().unwrap_or_else(|e| e.into_inner());
    gpus.iter()
        .find(|(d, _)| d == device)
        .map(|(_, g)| g.clone())
}

/// The largest tensor `device` holds in one buffer, `None` when it has no such limit.
pub fn buffer_limit(device: &Device) -> Option<u64> {
    #[cfg(feature = "wgpu")]
    return gpu_of(device).map(|gpu| gpu.max_binding);
    #[cfg(not(feature = "wgpu"))]
    {
        let _ = device;
        None
    }
}

/// What an initialized wgpu device can do, as the loader needs it.
#[cfg(feature = "wgpu")]
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

#[cfg(feature = "wgpu")]
fn register(device: &Device, setup: &burn::tensor::wgpu::WgpuSetup) -> GpuInfo {
    let limits = setup.device.limits();
    let max_buffer_bytes = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    let info = setup.adapter.get_info();
    let adapter = match info.name.as_str() {
        "" => format!("{:?}", setup.backend),
        name => format!("{name} ({:?})", setup.backend),
    };
    let subgroups = setup
        .device
        .features()
        .contains(burn::tensor::wgpu::wgpu::Features::SUBGROUP);
    let width = info.subgroup_min_size as usize;
    let one_width = info.subgroup_max_size as usize == width && (4..=64).contains(&width);
    let gpu = Gpu::new(
        setup.device.clone(),
        setup.queue.clone(),
        max_buffer_bytes,
        (adapter.clone(), (subgroups && one_width).then_some(width)),
    );
    GPUS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((device.clone(), Arc::new(gpu)));
    GpuInfo {
        adapter,
        max_buffer_bytes,
        shader_f16: setup
            .device
            .features()
            .contains(burn::tensor::wgpu::wgpu::Features::SHADER_F16),
        software: info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu,
    }
}

/// Why no wgpu adapter could be set up, in burn's words.
#[cfg(feature = "wgpu")]
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NoAdapter(String);

/// The default wgpu adapter, or why there is none.
/// Initialized once per process (burn refuses a second initialization).
#[cfg(all(feature = "wgpu", not(target_family = "wasm")))]
pub fn wgpu() -> Result<(Device, GpuInfo), NoAdapter> {
    static WGPU: std::sync::OnceLock<Result<(Device, GpuInfo), NoAdapter>> =
        std::sync::OnceLock::new();
    WGPU.get_or_init(|| {
        let (device, setup) = Device::wgpu_options()
            .init_with_setup()
            .map_err(|e| NoAdapter(format!("{e:?}")))?;
        let info = register(&device, &setup);
        Ok((device, info))
    })
    .clone()
}

/// The browser's WebGPU adapter, or why there is none.
#[cfg(all(feature = "wgpu", target_family = "wasm"))]
pub async fn webgpu() -> Result<(Device, GpuInfo), NoAdapter> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| NoAdapter(format!("{e:?}")))?;
    let info = register(&device, &setup);
    Ok((device, info))
}
