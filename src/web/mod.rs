//! The browser's engine, exported through wasm-bindgen and wrapped by web/src (the npm
//! package): the checkpoint's files in, the same `Service` as every other runtime out.
//! Values cross the boundary as JSON text and byte arrays, so the JavaScript side stays thin.

mod device;
mod files;
mod response;
#[cfg(feature = "gpu")]
mod webgpu;

use std::rc::Rc;
use std::sync::Arc;

use crate::model::{Precision, ShardIndex};
use js_sys::{Function, Map, Promise};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use crate::contract::{DEFAULT_BODY_LIMIT, Endpoint, Received};
use crate::engine::Engine;
use crate::generate::Cancel;
use crate::model::gguf::{self, Gguf};
use crate::runner::local::{LocalRunner, Pause};
use crate::service::{Config, ServedModel, Service};
pub use response::WasmResponse;
/// `initThreadPool(n)`: the CPU kernels' pool of `n` Web Workers (the threaded build).
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

#[wasm_bindgen(inline_js = "export function macrotask() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}
export function panicked(message) {
  globalThis.hearthPanic = message;
  console.error(message);
}
export function lost(message) {
  globalThis.hearthDeviceLost = message;
  globalThis.onhearthdevicelost?.(message);
}")]
extern "C" {
    /// A macrotask without setTimeout's 4 ms clamp on nested timers.
    fn macrotask() -> Promise;
    /// Records a panic's message where the page can read it: a panic aborts the module, and
    /// the trap alone says only "unreachable".
    fn panicked(message: String);
    /// Tells the page (or the engine's worker) that the WebGPU device is gone: the engine
    /// answers with errors from now on, and the package loads it again.
    pub(crate) fn lost(message: &str);
}

fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        panicked(format!("hearth panicked: {info}"))
    }));
}

fn pause() -> Pause {
    Box::pin(async {
        let _ = JsFuture::from(macrotask()).await;
    })
}

/// The shard files a `model.safetensors.index.json` names, sorted, each once: the same check
/// (plain file names in the checkpoint's directory) as every runtime's loader makes.
#[wasm_bindgen(js_name = shardFiles)]
pub fn shard_files(index: &[u8]) -> Result<Vec<String>, JsError> {
    let index = ShardIndex::parse(index).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(index.shards().into_iter().map(String::from).collect())
}

/// `WasmEngine.load`'s options (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LoadOptions {
    /// "auto" (WebGPU when there is an adapter and the model fits it), "webgpu" or "cpu".
    #[serde(default = "auto")]
    device: String,
    /// "f32" (default) or "f16" (WebGPU with shader-f16 only).
    #[serde(default)]
    dtype: Option<String>,
    model_id: String,
    /// API keys `handle` requires; none: no auth.
    #[serde(default)]
    keys: Vec<String>,
    /// Why WebGPU cannot be used, as the JavaScript side found (core.js `prepareWebGpu`).
    #[serde(default)]
    webgpu_unavailable: Option<String>,
}

fn auto() -> String {
    "auto".into()
}

#[wasm_bindgen]
pub struct WasmEngine {
    inner: Rc<Inner>,
}

struct Inner {
    service: Service,
    runner: Arc<LocalRunner>,
    /// Sent by in-page calls, which are trusted: the keys guard the HTTP-style `handle`.
    own_key: Option<String>,
    info: String,
}

#[wasm_bindgen]
impl WasmEngine {
    /// Loads a checkpoint from `files` (file name -> Uint8Array, the layout of a Hugging Face
    /// repo). `on_progress(loaded, total)` is told the weight bytes placed on the device.
    pub async fn load(
        files: Map,
        options: String,
        on_progress: Option<Function>,
    ) -> Result<WasmEngine, JsError> {
        report_panics();
        let options: LoadOptions = serde_json::from_str(&options)
            .map_err(|e| JsError::new(&format!("load options: {e}")))?;
        let files = files::PageFiles::take(&files).map_err(|e| JsError::new(&e))?;
        let asked = options
            .dtype
            .as_deref()
            .map(|name| {
                Precision::parse(name).ok_or_else(|| {
                    JsError::new(&format!("unknown dtype {name:?}: use {}", Precision::NAMES))
                })
            })
            .transpose()?;
        // A `.gguf` file is the whole model; unasked, it runs in its own format.
        let gguf = files
            .resident
            .keys()
            .find(|name| name.ends_with(".gguf"))
            .cloned();
        let dtype = match (&gguf, asked) {
            (_, Some(dtype)) => dtype,
            (None, None) => Precision::F32,
            (Some(name), None) => {
                let header = Gguf::parse(name, (*files.resident[name]).as_ref())
                    .map_err(|e| JsError::new(&e.to_string()))?;
                gguf::model::default_precision(&header)
            }
        };
        let unavailable = options.webgpu_unavailable.as_deref();
        let picked = device::pick(&options.device, unavailable, &files.resident, dtype).await?;
        let progress = Box::new(move |loaded: u64, total: u64| {
            if let Some(f) = &on_progress {
                let _ = f.call2(&JsValue::NULL, &loaded.into(), &total.into());
            }
        });
        let started = js_sys::Date::now();
        let engine = match gguf {
            Some(name) => {
                let blob = files.resident[&name].clone();
                Engine::load_gguf(&name, blob, picked.place.clone(), Some(dtype), progress)
            }
            None => Engine::load_with_progress(&files, picked.place.clone(), dtype, progress),
        }
        .map_err(|e| JsError::new(&e.to_string()))?;
        drop(files);
        let load_ms = js_sys::Date::now() - started;
        let context_length = engine.context_length();
        let runner = Arc::new(LocalRunner::new(engine, pause));
        let entropy = getrandom_04::u64().map_err(|e| JsError::new(&format!("no entropy: {e}")))?;
        let service = Service::new(Config {
            models: vec![ServedModel {
                id: options.model_id.clone(),
                runner: runner.clone(),
            }],
            keys: options.keys.clone(),
            body_limit: DEFAULT_BODY_LIMIT,
            clock: Arc::new(|| (js_sys::Date::now() / 1000.0) as u64),
            entropy,
        });
        let info = serde_json::json!({
            "modelId": options.model_id,
            "contextLength": context_length,
            "dtype": dtype.name(),
            "device": picked.kind,
            "reason": picked.reason,
            "adapter": picked.adapter,
            "maxBufferBytes": picked.max_buffer_bytes,
            "loadMs": load_ms,
            // wasm memory never shrinks: this is the most the load held at once.
            "loadHeapBytes": core::arch::wasm32::memory_size(0) * 65536,
        });
        Ok(WasmEngine {
            inner: Rc::new(Inner {
                service,
                runner,
                own_key: options.keys.first().map(|k| format!("Bearer {k}")),
                info: info.to_string(),
            }),
        })
    }

    /// What was loaded where, as JSON: modelId, contextLength, dtype, device ("webgpu" or
    /// "cpu"), reason (why that device), adapter, maxBufferBytes, loadMs, loadHeapBytes.
    pub fn info(&self) -> String {
        self.inner.info.clone()
    }

    /// Ends every running generation with what it has (finish_reason "abort").
    pub fn abort(&self) {
        self.inner.runner.abort();
    }

    /// One HTTP request of the contract; resolves to a [`WasmResponse`]. `cancel` ends its
    /// generation early, with what it has (finish_reason "abort").
    pub fn handle(
        &self,
        method: String,
        path: String,
        authorization: Option<String>,
        content_type: Option<String>,
        body: Vec<u8>,
        cancel: &WasmCancel,
    ) -> Promise {
        let inner = self.inner.clone();
        let cancel = cancel.0.clone();
        future_to_promise(async move {
            let received = Received {
                method,
                path,
                authorization,
                content_type,
                body,
            };
            let incoming = received.incoming();
            let response = inner.service.handle_cancellable(&incoming, cancel).await;
            Ok(WasmResponse::new(response).into())
        })
    }

    /// A completion_messages request body from the page itself: no HTTP, so no auth.
    pub fn complete(&self, body: Vec<u8>, cancel: &WasmCancel) -> Promise {
        let endpoint = Endpoint::CompletionMessages;
        let authorization = self.inner.own_key.clone();
        self.handle(
            endpoint.method().into(),
            endpoint.path().into(),
            authorization,
            Some("application/json".into()),
            body,
            cancel,
        )
    }
}

/// One request's stop button, made by the page and passed to `handle` or `complete`.
#[wasm_bindgen]
#[derive(Default)]
pub struct WasmCancel(Cancel);

#[wasm_bindgen]
impl WasmCancel {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.cancel();
    }
}
