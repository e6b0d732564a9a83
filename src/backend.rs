//! Which burn device runs the model: flex on the CPU (everywhere), or wgpu (Vulkan, Metal,
//! DX12 natively; WebGPU in the browser).

use burn::tensor::{DType, Device};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Cpu,
    #[cfg(feature = "wgpu")]
    Wgpu,
}

impl Backend {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "cpu" | "flex" => Some(Self::Cpu),
            #[cfg(feature = "wgpu")]
            "wgpu" | "gpu" => Some(Self::Wgpu),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            #[cfg(feature = "wgpu")]
            Self::Wgpu => "wgpu",
        }
    }
}

/// The run dtypes by name: what weights are converted to and activations computed in.
pub fn parse_dtype(name: &str) -> Option<DType> {
    match name.to_ascii_lowercase().as_str() {
        "f32" | "float32" => Some(DType::F32),
        "f16" | "float16" => Some(DType::F16),
        "bf16" | "bfloat16" => Some(DType::BF16),
        _ => None,
    }
}

/// The CPU device.
pub fn cpu() -> Device {
    Device::flex()
}

/// The default wgpu adapter, or why there is none.
#[cfg(all(feature = "wgpu", not(target_family = "wasm")))]
pub fn wgpu() -> Result<Device, String> {
    Device::wgpu_options().init().map_err(|e| format!("{e:?}"))
}
