//! WebGPU for the browser's engine: the device hearth opens on the page's adapter (plain
//! wgpu, not burn's runtime, so the build carries no compiler of burn's kernels), and whether
//! the model's largest buffer fits it (the build with WebGPU only).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use super::device::Picked;
use crate::backend::{GpuInfo, Place};
use crate::model::architecture::{LayerTensor, TensorId, tensors};
use crate::model::gpu::Gpu;
use crate::model::safetensors::Blob;
use crate::model::{LoadError, ModelConfig, Precision};

pub async fn webgpu(files: &HashMap<String, Blob>, dtype: Precision) -> Result<Picked, String> {
    // hearth's kernels read every dtype (f16 and bf16 widened, q8/q4 dequantized in
    // registers), so only the buffer size can rule an adapter out.
    let (device, gpu) = opened().await?;
    let config = config_of(files).map_err(|e| e.to_string())?;
    let mib = |b: u64| b >> 20;
    if let Some((bytes, name)) =
        largest_buffer(&config, dtype).filter(|(b, _)| *b > gpu.max_buffer_bytes)
    {
        return Err(format!(
            "{name} needs {} MiB in one buffer but the WebGPU adapter {} binds at most {} MiB",
            mib(bytes),
            gpu.adapter,
            mib(gpu.max_buffer_bytes)
        ));
    }
    Ok(Picked {
        place: Place::Gpu(device),
        kind: "webgpu",
        reason: format!(
            "WebGPU adapter {} (up to {} MiB per buffer{})",
            gpu.adapter,
            mib(gpu.max_buffer_bytes),
            if gpu.shader_f16 { ", shader-f16" } else { "" }
        ),
        adapter: Some(gpu.adapter.clone()),
        max_buffer_bytes: Some(gpu.max_buffer_bytes),
    })
}

/// The largest buffer the GPU network makes for `config` in `dtype`, and what it holds: the
/// vocabulary matrices are split to fit, q/k/v and gate/up are stacked.
fn largest_buffer(config: &ModelConfig, dtype: Precision) -> Option<(u64, String)> {
    let specs = tensors(config);
    let size = |t: LayerTensor| {
        specs
            .iter()
            .find(|s| s.id == TensorId::Layer(0, t))
            .map_or(0, |s| s.shape.iter().product::<usize>() as u64)
    };
    use LayerTensor::*;
    [
        (size(Q) + size(K) + size(V), "the stacked q/k/v projection"),
        (size(O), "o_proj"),
        (size(Gate) + size(Up), "the stacked gate/up projection"),
        (size(Down), "down_proj"),
    ]
    .into_iter()
    .map(|(elements, name)| (dtype.bytes(elements), name.to_string()))
    .max()
}

thread_local! {
    /// The page's engines share one device until it is lost.
    static OPENED: RefCell<Option<(Arc<Gpu>, GpuInfo)>> = const { RefCell::new(None) };
}

async fn opened() -> Result<(Arc<Gpu>, GpuInfo), String> {
    let kept = OPENED.with(|o| o.borrow().clone());
    if let Some(kept) = kept.filter(|(gpu, _)| gpu.lost().is_none()) {
        return Ok(kept);
    }
    let opened = open()
        .await
        .map_err(|e| format!("no WebGPU adapter ({e})"))?;
    OPENED.with(|o| *o.borrow_mut() = Some(opened.clone()));
    Ok(opened)
}

async fn open() -> Result<(Arc<Gpu>, GpuInfo), String> {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = wgpu::Backends::BROWSER_WEBGPU;
    let instance = wgpu::Instance::new(descriptor);
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    // The kernels use f16 and subgroups where the adapter has them, and buffers as large as
    // it binds (the defaults stop at 128 MiB, below a 0.5B model's vocabulary).
    let features = adapter.features() & (wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP);
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("hearth"),
            required_features: features,
            required_limits: adapter.limits(),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let (gpu, info) = Gpu::open(&adapter, device, queue);
    gpu.watch_loss(super::lost);
    Ok((Arc::new(gpu), info))
}

/// The model's config: config.json, or a GGUF file's metadata.
fn config_of(files: &HashMap<String, Blob>) -> Result<ModelConfig, LoadError> {
    if let Some((name, bytes)) = files.iter().find(|(name, _)| name.ends_with(".gguf")) {
        let bytes = (**bytes).as_ref();
        let header = crate::model::gguf::Gguf::parse(name, bytes)?;
        return crate::model::gguf::model::config(&header, bytes);
    }
    let bytes = files
        .get("config.json")
        .ok_or_else(|| LoadError::MissingFile {
            file: "config.json".into(),
            location: "the page's files".into(),
        })?;
    ModelConfig::from_json((**bytes).as_ref())
}
