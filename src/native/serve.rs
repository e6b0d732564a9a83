//! `hearth serve`: load a checkpoint directory, put it behind the service and the HTTP server.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use burn::tensor::DType;

use crate::backend::{self, Backend};
use crate::engine::Engine;
use crate::native::files::DirSource;
use crate::native::runner::EngineThread;
use crate::native::server::{self, Limits};
use crate::service::{Config, ServedModel, Service};

#[derive(clap::Args)]
pub struct ServeOptions {
    /// A Hugging Face checkpoint directory (config.json, model.safetensors, tokenizer.json, ...).
    #[arg(long)]
    pub model_dir: PathBuf,
    /// The id clients name (default: the directory's name).
    #[arg(long)]
    pub model_id: Option<String>,
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
    /// cpu or wgpu (default: wgpu when an adapter exists, else cpu).
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// f32, f16 or bf16.
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    pub dtype: DType,
    /// Requests that may wait behind the running one; more get 503.
    #[arg(long, default_value_t = 16)]
    pub max_queue: usize,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = crate::contract::DEFAULT_BODY_LIMIT)]
    pub max_body: usize,
}

fn parse_backend(name: &str) -> Result<Backend, String> {
    Backend::parse(name).ok_or_else(|| format!("unknown backend {name:?}; use cpu or wgpu"))
}

fn parse_dtype(name: &str) -> Result<DType, String> {
    backend::parse_dtype(name)
        .ok_or_else(|| format!("unknown dtype {name:?}; use f32, f16 or bf16"))
}

pub fn run(options: ServeOptions) -> Result<(), String> {
    let keys: Vec<String> = options
        .api_keys
        .iter()
        .filter(|k| !k.is_empty())
        .cloned()
        .collect();
    if keys.is_empty() && !options.host.is_loopback() && !options.no_auth {
        return Err(format!(
            "refusing to serve on {} without an API key: pass --api-key KEY (or HEARTH_API_KEYS), or --no-auth to serve openly",
            options.host
        ));
    }
    let (device, backend) = match options.backend {
        Some(Backend::Cpu) => (backend::cpu(), Backend::Cpu),
        Some(Backend::Wgpu) => (
            backend::wgpu().map_err(|e| format!("no wgpu adapter: {e}"))?,
            Backend::Wgpu,
        ),
        None => match backend::wgpu() {
            Ok(device) => (device, Backend::Wgpu),
            Err(e) => {
                tracing::info!(reason = %e, "no wgpu adapter; running on the CPU");
                (backend::cpu(), Backend::Cpu)
            }
        },
    };
    let started = Instant::now();
    let engine = Engine::load(&DirSource::new(&options.model_dir), &device, options.dtype)
        .map_err(|e| format!("{}: {e}", options.model_dir.display()))?;
    let id = options.model_id.clone().unwrap_or_else(|| {
        let dir = options
            .model_dir
            .canonicalize()
            .unwrap_or(options.model_dir.clone());
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into())
    });
    tracing::info!(model = %id, backend = backend.name(), dtype = ?options.dtype, ms = started.elapsed().as_millis() as u64, "model loaded");
    let runner = EngineThread::spawn(engine, options.max_queue)
        .map_err(|e| format!("engine thread: {e}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let service = Service::new(Config {
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
    });
    if options.api_keys.is_empty() {
        tracing::warn!(
            "no API key configured: anyone who can reach {} can use it",
            options.host
        );
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(options.host, options.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        tracing::info!(
            "serving on http://{}/api/v1/chat/completion_messages",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let limits = Limits {
            body_limit: options.max_body,
            read_timeout: Duration::from_secs(30),
            grace: Duration::from_secs(10),
        };
        server::serve(Arc::new(service), listener, limits, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })
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
