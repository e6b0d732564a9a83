//! `hearth serve`: load a checkpoint, put it behind the service and the HTTP server.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::native::checkpoint::{CheckpointOptions, Loaded};
use crate::native::runner::EngineThread;
use crate::native::server::{self, Limits};
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
    /// Requests that may wait behind the running one; more get 503.
    #[arg(long, default_value_t = 16)]
    pub max_queue: usize,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = crate::contract::DEFAULT_BODY_LIMIT)]
    pub max_body: usize,
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
    let Loaded { engine, id } = options.checkpoint.load()?;
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
