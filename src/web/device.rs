//! Where the browser runs the model: WebGPU when the page asks for it (or for "auto") and
//! the adapter can hold every tensor, else the CPU. The answer says why, for `engine.device`.

use std::collections::HashMap;

use wasm_bindgen::JsError;

use crate::backend::{self, Place};
use crate::model::Precision;
use crate::model::safetensors::Blob;

pub struct Picked {
    pub place: Place,
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
            #[cfg(feature = "gpu")]
            None => super::webgpu::webgpu(files, dtype).await,
            #[cfg(not(feature = "gpu"))]
            None => {
                let _ = (files, dtype);
                Err("this build of hearth has no WebGPU (the threaded CPU build)".to_string())
            }
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
        place: Place::Device(backend::cpu()),
        kind: "cpu",
        reason,
        adapter: None,
        max_buffer_bytes: None,
    }
}
