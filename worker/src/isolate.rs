//! The in-isolate mode: the model is loaded on the first request that needs it (never at
//! start-up), once per isolate however many requests arrive meanwhile, and then serves every
//! request through the same `Service` as `hearth serve`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use burn::tensor::Device;
use hearth::contract::{Admitted, ApiError, DEFAULT_BODY_LIMIT, Received};
use hearth::engine::Engine;
use hearth::model::Precision;
use hearth::model::gguf::{self, Gguf};
use hearth::model::safetensors::Blob;
use hearth::model::{INDEX_FILE, ModelConfig, Network, SINGLE_FILE, ShardIndex, Weights};
use hearth::runner::local::{LocalRunner, Pause};
use hearth::service::{Config, ServedModel, Service};
use hearth::text::{ChatFormat, TextFiles};
use worker::{Delay, Response, Result, console_log, js_sys};

use crate::fit::Estimate;

/// Qwen's tokenizer.json: 11.4 MB for 151643 tokens.
const TOKENIZER_JSON_BYTES_PER_TOKEN: u64 = 75;
use crate::http;
use crate::settings::{Isolate, Origin, Settings};

/// How often a request waiting for another's load looks again.
const WAIT_TICK: Duration = Duration::from_millis(50);

type Loaded = std::result::Result<Rc<Service>, String>;

/// The isolate's model. Requests share it through this slot, never through a future: the
/// Workers runtime runs a woken task in the waking request's context, where its I/O fails
/// ("Cannot perform I/O on behalf of a different request"), and cancels a request that
/// waits on nothing of its own ("the code had hung"). So a request waiting for another's
/// load polls this slot on a timer of its own.
enum Slot {
    Empty,
    /// Attempt number.
    Loading(u64),
    Ready(Rc<Service>),
    /// A failed attempt; the next request that did not wait for it tries again.
    Failed(u64, String),
}

thread_local! {
    static SLOT: RefCell<Slot> = const { RefCell::new(Slot::Empty) };
    static ATTEMPTS: Cell<u64> = const { Cell::new(0) };
}

pub async fn handle(
    settings: &Settings,
    isolate: &Isolate,
    received: &Received,
) -> Result<Response> {
    let incoming = received.incoming();
    // What the contract alone decides is answered without the model, so a bad request or a
    // health probe never triggers a load.
    match settings.admit(&incoming) {
        Err(e) => return http::error(&received.path, &e),
        Ok(Admitted::Health) => return http::health(),
        Ok(_) => {}
    }
    let service = match service(settings, isolate).await {
        Ok(service) => service,
        Err(message) => {
            let e = ApiError::internal(format!("loading the model failed: {message}"));
            return http::error(&received.path, &e);
        }
    };
    let response = service.handle(&incoming).await;
    let mut extra = Vec::new();
    if isolate.report_memory {
        extra.push(("x-hearth-wasm-memory", wasm_memory_bytes().to_string()));
    }
    http::respond(response, &extra)
}

/// The isolate's service: loaded, loaded by this request, or waited for.
async fn service(settings: &Settings, isolate: &Isolate) -> Loaded {
    let mut waited_for = None;
    loop {
        let seen = SLOT.with(|slot| match &*slot.borrow() {
            Slot::Empty => None,
            Slot::Loading(attempt) => Some(Err(Some(*attempt))),
            Slot::Ready(service) => Some(Ok(Ok(service.clone()))),
            Slot::Failed(attempt, message) if waited_for == Some(*attempt) => {
                Some(Ok(Err(message.clone())))
            }
            Slot::Failed(..) => None,
        });
        match seen {
            Some(Ok(loaded)) => return loaded,
            Some(Err(attempt)) => {
                waited_for = attempt;
                Delay::from(WAIT_TICK).await;
            }
            None => return load(settings, isolate).await,
        }
    }
}

/// Loads the model in this request, telling waiting requests through the slot.
async fn load(settings: &Settings, isolate: &Isolate) -> Loaded {
    let attempt = ATTEMPTS.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    SLOT.with(|slot| *slot.borrow_mut() = Slot::Loading(attempt));
    // Should this request be cancelled mid-load, the next request starts over.
    let _reset = ResetUnlessDone(attempt);
    let job = Load {
        model_id: settings.model_id.clone(),
        keys: settings.keys.clone(),
        origin: isolate.origin.clone(),
        gguf: isolate.gguf.clone(),
        dtype: isolate.dtype,
        memory_limit: isolate.memory_limit,
    };
    let result = job.run().await;
    SLOT.with(|slot| {
        *slot.borrow_mut() = match &result {
            Ok(service) => Slot::Ready(service.clone()),
            Err(message) => Slot::Failed(attempt, message.clone()),
        }
    });
    result
}

struct ResetUnlessDone(u64);

impl Drop for ResetUnlessDone {
    fn drop(&mut self) {
        SLOT.with(|slot| {
            let mut slot = slot.borrow_mut();
            if matches!(*slot, Slot::Loading(a) if a == self.0) {
                *slot = Slot::Empty;
            }
        });
    }
}

/// What a load needs, taken from the settings of the request that runs it.
struct Load {
    model_id: String,
    keys: Vec<String>,
    origin: Origin,
    gguf: Option<String>,
    dtype: Option<Precision>,
    memory_limit: u64,
}

impl Load {
    async fn run(self) -> Loaded {
        let started = js_sys::Date::now();
        let engine = self.engine().await?;
        console_log!(
            "hearth: loaded {} from {} in {} ms; wasm memory {} MiB",
            self.model_id,
            self.origin.describe(),
            js_sys::Date::now() - started,
            wasm_memory_bytes() >> 20
        );
        let entropy = getrandom_04::u64().map_err(|e| format!("no entropy: {e}"))?;
        Ok(Rc::new(Service::new(Config {
            models: vec![ServedModel {
                id: self.model_id,
                runner: Arc::new(LocalRunner::new(engine, pause)),
            }],
            keys: self.keys,
            body_limit: DEFAULT_BODY_LIMIT,
            clock: Arc::new(|| (js_sys::Date::now() / 1000.0) as u64),
            entropy,
        })))
    }

    /// `Engine::load`'s steps in the order that needs the least memory at once. A model
    /// that cannot fit is refused before any weight is fetched. The weights are loaded and
    /// their files dropped before tokenizer.json is parsed, so that the parse's transient
    /// (about 70 MiB for Qwen's vocabulary) reuses the files' memory: the other way round,
    /// what the parse leaves behind is scattered through its memory and the weights find no
    /// room there (measured: 160 MiB instead of 123 MiB for the tiny test model).
    async fn engine(&self) -> std::result::Result<Engine, String> {
        if let Some(file) = &self.gguf {
            return self.gguf_engine(file).await;
        }
        let dtype = self.dtype.unwrap_or(Precision::F32);
        let origin = &self.origin;
        let where_ = origin.describe();
        let missing = |file: &str| format!("{where_}/{file}: not found");
        let device = Device::flex();
        let config_json = origin
            .get("config.json")
            .await?
            .ok_or_else(|| missing("config.json"))?;
        let config = ModelConfig::from_json(&config_json)
            .map_err(|e| format!("{where_}/config.json: {e}"))?;
        let index = origin.get(INDEX_FILE).await?;
        let weight_files = match &index {
            Some(index) => ShardIndex::parse(index)
                .map_err(|e| format!("{where_}/{e}"))?
                .shards()
                .into_iter()
                .map(String::from)
                .collect(),
            None => vec![SINGLE_FILE.to_string()],
        };
        let mut file_bytes = 0;
        for file in &weight_files {
            file_bytes += origin.size(file).await?.ok_or_else(|| missing(file))?;
        }
        let tokenizer_bytes = origin
            .size("tokenizer.json")
            .await?
            .ok_or_else(|| missing("tokenizer.json"))?;
        Estimate::new(&config, file_bytes, tokenizer_bytes, dtype)
            .check(self.memory_limit, dtype)?;

        let mut files: HashMap<String, Blob> = HashMap::new();
        if let Some(index) = index {
            files.insert(INDEX_FILE.into(), Arc::new(index));
        }
        for name in weight_files {
            let bytes = origin.get(&name).await?.ok_or_else(|| missing(&name))?;
            files.insert(name, Arc::new(bytes));
        }
        let weights = Weights::open(&files).map_err(|e| format!("{where_}: {e}"))?;
        let model = Network::load(config.clone(), &weights, &device, dtype)
            .map_err(|e| format!("{where_}: {e}"))?;
        drop((weights, files));
        let format = self.format(&config).await?;
        Ok(Engine { model, format })
    }

    /// A GGUF model: the one file fetched, then checked against the memory limit from its
    /// header before any weight is converted.
    async fn gguf_engine(&self, file: &str) -> std::result::Result<Engine, String> {
        let where_ = format!("{}/{file}", self.origin.describe());
        let bytes = self
            .origin
            .get(file)
            .await?
            .ok_or_else(|| format!("{where_}: not found"))?;
        let size = bytes.len() as u64;
        let header = Gguf::parse(&where_, &bytes).map_err(|e| e.to_string())?;
        let config = gguf::model::config(&header, &bytes).map_err(|e| e.to_string())?;
        let dtype = self
            .dtype
            .unwrap_or_else(|| gguf::model::default_precision(&header));
        // The file stays in memory while its tokenizer is rebuilt (a tokenizer.json of about
        // as many bytes per token as Qwen's) and its weights are converted.
        let tokenizer_bytes = config.vocab_size as u64 * TOKENIZER_JSON_BYTES_PER_TOKEN;
        Estimate::new(&config, 0, tokenizer_bytes, dtype)
            .holding(size)
            .check(self.memory_limit, dtype)?;
        let blob: Blob = Arc::new(bytes);
        Engine::load_gguf(
            &where_,
            blob,
            &Device::flex(),
            Some(dtype),
            Box::new(|_, _| {}),
        )
        .map_err(|e| e.to_string())
    }

    /// The tokenizer, chat template and stop tokens, checked against config.json.
    async fn format(&self, config: &ModelConfig) -> std::result::Result<ChatFormat, String> {
        let where_ = self.origin.describe();
        let tokenizer = self
            .origin
            .get("tokenizer.json")
            .await?
            .ok_or_else(|| format!("{where_}/tokenizer.json: not found"))?;
        let mut optional = Vec::new();
        for name in TextFiles::OPTIONAL {
            optional.push(self.origin.get(name).await?);
        }
        let files = TextFiles {
            tokenizer_json: &tokenizer,
            tokenizer_config: optional[0].as_deref(),
            generation_config: optional[1].as_deref(),
            chat_template: optional[2].as_deref(),
            chat_template_name: None,
        };
        hearth::engine::chat_format(files, config).map_err(|e| format!("{where_}: {e}"))
    }
}

/// A timer tick: a macrotask, after which the runtime flushes the stream.
fn pause() -> Pause {
    Box::pin(Delay::from(Duration::ZERO))
}

/// The wasm linear memory's size: it only grows, so this is the peak so far.
fn wasm_memory_bytes() -> usize {
    core::arch::wasm32::memory_size::<0>() * 65536
}
