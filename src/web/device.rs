//! Where the browser runs the model: WebGPU when the page asks for it (or for "auto") and
//! the adapter can hold every tensor, else the CPU. The answer says why, for `engine.device`.

use std::cell::RefCell;
use std::collections::HashMap;

use burn::tensor::Device;
use wasm_bindgen::JsError;

use crate::backend::{self, GpuInfo};
use crate::model::architecture::{LayerTensor, TensorId, tensors};
use crate::model::safetensors::Blob;
use crate::model::{LoadError, ModelConfig, Precision};

pub struct Picked {
    pub device: Device,
    /// "webgpu" or "cpu".
    pub kind: &'static str,
    pub reason: String,
    pub adapter: Option<String>,
    pub max_buffer_bytes: Option<u64>,
}

/// `unavailable`: why WebGPU cannot be used, when the page already knows.
pub async fn pick(
    wanted: &str,
    unavailable: Option<&str>,
    files: &HashMap<String, Blob>,
    dtype: Precision,
) -> Result<Picked, JsError> {
    let webgpu = || async {
        match unavailable {
            Some(why) => Err(why.to_string()),
            None => webgpu(files, dtype).await,
        }
    };
    match wanted {
        "cpu" => Ok(cpu("the page asked for the CPU".into())),
        "webgpu" => webgpu().await.map_err(|e| JsError::new(&e)),
        "auto" => Ok(match webgpu().await {
            Ok(picked) => picked,
            Err(why) => cpu(format!("{why}, so the CPU")),
        }),
        other => Err(JsError::new(&format!(
            "unknown device {other:?}: use \"auto\", \"webgpu\" or \"cpu\""
        ))),
    }
}

fn cpu(reason: String) -> Picked {
    Picked {
        device: backend::cpu(),
        kind: "cpu",
        reason,
        adapter: None,
        max_buffer_bytes: None,
    }
}

async fn webgpu(files: &HashMap<String, Blob>, dtype: Precision) -> Result<Picked, String> {
    // hearth's kernels read every dtype (f16 and bf16 widened, q8/q4 dequantized in
    // registers), so only the buffer size can rule an adapter out.
    let (device, gpu) = adapter().await?;
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
        device,
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
    /// burn initializes a runtime once; later engines in the same page reuse it.
    static ADAPTER: RefCell<Option<Result<(Device, GpuInfo), String>>> = const { RefCell::new(None) };
}

async fn adapter() -> Result<(Device, GpuInfo), String> {
    if let Some(found) = ADAPTER.with(|a| a.borrow().clone()) {
        return found;
    }
    let found = backend::webgpu()
        .await
        .map_err(|e| format!("no WebGPU adapter ({e})"));
    ADAPTER.with(|a| *a.borrow_mut() = Some(found.clone()));
    found
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
