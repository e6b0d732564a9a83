//! Where the model runs: flex on the CPU (everywhere), or a GPU through wgpu: natively burn's
//! wgpu device (Vulkan, Metal, DX12), which hearth's kernels and burn's tensor-op baseline
//! share; in the browser a WebGPU device hearth opens itself, without burn's runtime.

#[cfg(feature = "gpu")]
use std::sync::Arc;
#[cfg(feature = "wgpu")]
use std::sync::Mutex;

use burn::tensor::Device;

#[cfg(feature = "gpu")]
use crate::model::gpu::Gpu;
#[cfg(feature = "gpu")]
pub use crate::model::gpu::GpuInfo;

/// What a model is loaded onto.
#[derive(Clone)]
pub enum Place {
    /// A burn device: flex, or (natively) wgpu, whose handles [`gpu_of`] finds.
    Device(Device),
    /// A GPU opened without burn (the browser's WebGPU).
    #[cfg(feature = "gpu")]
    Gpu(Arc<Gpu>),
}

impl From<&Device> for Place {
    fn from(device: &Device) -> Self {
        Self::Device(device.clone())
    }
}

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

#[cfg(feature = "wgpu")]
fn register(device: &Device, setup: &burn::tensor::wgpu::WgpuSetup) -> GpuInfo {
    let (gpu, info) = Gpu::open(&setup.adapter, setup.device.clone(), setup.queue.clone());
    GPUS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((device.clone(), Arc::new(gpu)));
    info
}

/// Why no wgpu adapter could be set up, in burn's words.
#[cfg(feature = "wgpu")]
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NoAdapter(String);

/// The default wgpu adapter, or why there is none.
/// Initialized once per process (burn refuses a second initialization).
#[cfg(feature = "wgpu")]
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
