//! `hearth serve`: load a checkpoint, put it behind the service and the HTTP server.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::ModelConfig;
use crate::native::checkpoint::{CheckpointOptions, Loaded};
use crate::native::cors::Cors;
use crate::native::server::{self, Settings};
use crate::runner::scheduler::SlotOptions;
use crate::runner::thread::EngineThread;
use crate::service::{Config, ServedModel, Service};

#[derive(clap::Args)]
pub struct ServeOptions {
    #[command(flatten)]
    pub checkpoint: CheckpointOptions,
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// An accepted API key (repeatable; HEARTH_API_KEYS takes a comma-separated list).
    #[arg(long = "api-key", env = "HEARTH_API_KEYS", value_delimiter = ',')]
    pub api_keys: Vec<String>,
    /// Serve without keys on a non-loopback address.
    #[arg(long)]
    pub no_auth: bool,
    /// Sequences decoded together, each in a slot with a KV cache of its own (an answer of
    /// n > 1 takes n).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
    /// Positions per slot, prompt and answer together [default: the model's context length,
    /// at most 4096].
    #[arg(long)]
    pub ctx_size: Option<usize>,
    /// Prompt tokens prefilled per step, so running answers keep streaming while a long
    /// prompt is read.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub prefill_chunk: u32,
    /// Requests that may wait for a slot; more get 503.
    #[arg(long, default_value_t = 16)]
    pub max_queue: usize,
    /// Connections open at once; one more is answered 503 and closed.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// A browser origin (`scheme://host[:port]`) whose pages may call the server, or `*` for
    /// any (repeatable; HEARTH_CORS_ORIGINS takes a comma-separated list) [default: none].
    #[arg(
        long = "cors-origin",
        env = "HEARTH_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = crate::contract::DEFAULT_BODY_LIMIT)]
    pub max_body: usize,
}

pub fn run(options: ServeOptions) -> Result<(), String> {
    // An empty key would read as "no key" and serve openly without the warning below.
    if options.api_keys.iter().any(|k| k.trim().is_empty()) {
        return Err(
            "an API key is empty (--api-key '' or an empty entry in HEARTH_API_KEYS): give each key a value, or none to serve without keys on loopback".into(),
        );
    }
    let keys = options.api_keys.clone();
    if keys.is_empty() && !options.host.is_loopback() && !options.no_auth {
        return Err(format!(
            "refusing to serve on {} without an API key: pass --api-key KEY (or HEARTH_API_KEYS), or --no-auth to serve openly",
            options.host
        ));
    }
    if options.api_keys.is_empty() {
        tracing::warn!(
            "no API key configured: anyone who can reach {} can use it",
            options.host
        );
    }
    let addr = SocketAddr::new(options.host, options.port);
    let settings = Settings {
        cors: Cors::new(&options.cors_origins)?,
        body_limit: options.max_body,
        read_timeout: Duration::from_secs(30),
        grace: Duration::from_secs(10),
        max_connections: options.max_connections,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async move {
        // The port opens at once: until the model is ready, requests get 503 "loading".
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!("listening on http://{local}; loading the model");
        let ready = server::Ready::default();
        let server = tokio::spawn(server::serve_when_ready(
            ready.clone(),
            listener,
            settings,
            shutdown_signal(),
        ));
        let service = tokio::task::spawn_blocking(move || load_service(options, keys))
            .await
            .map_err(|e| format!("loading the model: {e}"))??;
        let _ = ready.set(Arc::new(service));
        tracing::info!("serving on http://{local}/api/v1/chat/completion_messages");
        server
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    })
}

/// Loads the model and puts it behind the service.
fn load_service(options: ServeOptions, keys: Vec<String>) -> Result<Service, String> {
    let Loaded { engine, id } = options.checkpoint.load()?;
    let slots = slot_options(&options, engine.model.config())?;
    let runner = EngineThread::spawn(engine, slots, options.max_queue)
        .map_err(|e| format!("engine thread: {e}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Service::new(Config {
        models: vec![ServedModel {
            id,
            runner: Arc::new(runner),
        }],
        keys,
        body_limit: options.max_body,
        clock: Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        }),
        entropy: now.as_nanos() as u64 ^ u64::from(std::process::id()),
    }))
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
}

/// A slot's positions unless `--ctx-size` says otherwise (the model's own may be 128 k).
const DEFAULT_CTX: usize = 4096;

/// The slots `options` ask for, checked against the model and the machine's memory.
fn slot_options(options: &ServeOptions, config: &ModelConfig) -> Result<SlotOptions, String> {
    let model_ctx = config.max_position_embeddings;
    let ctx_size = options.ctx_size.unwrap_or(model_ctx.min(DEFAULT_CTX));
    if ctx_size == 0 || ctx_size > model_ctx {
        return Err(format!(
            "--ctx-size {ctx_size} is outside the model's context length: give 1 to {model_ctx}"
        ));
    }
    let parallel = usize::from(options.parallel);
    let kv_bytes = parallel as u64 * ctx_size as u64 * config.kv_bytes_per_position() as u64;
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    if let Some(available) = available_memory().filter(|&a| kv_bytes > a) {
        return Err(format!(
            "the KV cache of {parallel} slots x {ctx_size} positions needs {:.2} GiB, but the machine has {:.2} GiB available: lower --parallel or --ctx-size",
            gib(kv_bytes),
            gib(available)
        ));
    }
    tracing::info!(
        parallel,
        ctx_size,
        prefill_chunk = options.prefill_chunk,
        kv_gib = format!("{:.2}", gib(kv_bytes)),
        "slots"
    );
    Ok(SlotOptions {
        parallel,
        ctx_size,
        prefill_chunk: options.prefill_chunk as usize,
    })
}

/// MemAvailable from /proc/meminfo (Linux), in bytes; `None` where there is none.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
