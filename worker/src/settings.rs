//! The worker's configuration, read from its bindings on every request (reading a binding is
//! a property lookup; the isolate keeps nothing but the loaded model between requests).

use std::time::Duration;

use hearth::contract::{Admitted, ApiError, DEFAULT_BODY_LIMIT, Incoming, Policy, admit};
use hearth::model::Precision;
use worker::{Bucket, Env};

/// The R2 binding that holds a checkpoint directory (in-isolate mode).
pub const BUCKET_BINDING: &str = "MODEL_BUCKET";
/// Cloudflare's memory limit for one isolate.
const DEFAULT_MEMORY_MB: u64 = 128;
/// How long an upstream may take to send its response headers.
const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 30_000;

pub struct Settings {
    pub model_id: String,
    /// Empty: no auth.
    pub keys: Vec<String>,
    pub mode: Mode,
}

pub enum Mode {
    /// Forward admitted requests to a server that speaks the contract.
    Upstream(Upstream),
    /// Run the model in the isolate, from these files.
    Isolate(Isolate),
}

pub struct Upstream {
    /// Without trailing slashes; request paths are appended. At least one.
    pub bases: Vec<String>,
    /// Sent upstream as `Authorization: Bearer …` (the caller's key is never forwarded).
    pub key: Option<String>,
    pub timeout: Duration,
}

pub struct Isolate {
    pub origin: Origin,
    /// The one file of a GGUF model (MODEL_URL or MODEL_PREFIX ending in `.gguf`); `None`
    /// for a checkpoint directory.
    pub gguf: Option<String>,
    /// DTYPE; unset: f32 for a checkpoint, the file's own format for a GGUF.
    pub dtype: Option<Precision>,
    /// What the model may use of the isolate's memory, in bytes.
    pub memory_limit: u64,
    /// Answers carry `x-hearth-wasm-memory` (the wasm memory's size) for measurements.
    pub report_memory: bool,
}

/// Where the checkpoint directory's files come from.
#[derive(Clone)]
pub enum Origin {
    Bucket { bucket: Bucket, prefix: String },
    Url(String),
}

impl Settings {
    /// What the contract alone decides about a request (route, key, body, fields, model),
    /// before any model or upstream is involved.
    pub fn admit(&self, incoming: &Incoming<'_>) -> Result<Admitted, ApiError> {
        let served = [self.model_id.clone()];
        let policy = Policy {
            keys: &self.keys,
            body_limit: DEFAULT_BODY_LIMIT,
            served: &served,
        };
        admit(incoming, &policy)
    }

    pub fn from_env(env: &Env) -> Result<Self, String> {
        let model_id = text(env, "MODEL_ID").ok_or(
            "set the MODEL_ID var to the id clients name (e.g. Qwen/Qwen2.5-0.5B-Instruct)",
        )?;
        let keys = text(env, "API_KEYS")
            .map(|keys| {
                keys.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let upstreams = text(env, "UPSTREAM_URLS").or_else(|| text(env, "UPSTREAM_URL"));
        let mode = match upstreams {
            Some(urls) => Mode::Upstream(Upstream {
                bases: bases(&urls)?,
                key: text(env, "UPSTREAM_KEY"),
                timeout: Duration::from_millis(number(
                    env,
                    "UPSTREAM_TIMEOUT_MS",
                    DEFAULT_UPSTREAM_TIMEOUT_MS,
                )?),
            }),
            None => Mode::Isolate({
                let (origin, gguf) = origin(env)?;
                Isolate {
                    origin,
                    gguf,
                    dtype: text(env, "DTYPE")
                        .map(|name| {
                            Precision::parse(&name)
                                .ok_or_else(|| format!("DTYPE {name:?}: use {}", Precision::NAMES))
                        })
                        .transpose()?,
                    memory_limit: number(env, "MEMORY_LIMIT_MB", DEFAULT_MEMORY_MB)? << 20,
                    report_memory: text(env, "REPORT_MEMORY").as_deref() == Some("true"),
                }
            }),
        };
        Ok(Self {
            model_id,
            keys,
            mode,
        })
    }
}

/// UPSTREAM_URLS (or UPSTREAM_URL): comma-separated base URLs.
fn bases(urls: &str) -> Result<Vec<String>, String> {
    let bases: Vec<String> = urls
        .split(',')
        .map(|url| url.trim().trim_end_matches('/').to_string())
        .collect();
    match bases.iter().any(String::is_empty) {
        true => Err(format!("UPSTREAM_URLS {urls:?} has an empty entry")),
        false => Ok(bases),
    }
}

/// Where the files are, and the GGUF file's name when the setting names one.
fn origin(env: &Env) -> Result<(Origin, Option<String>), String> {
    // `…/model.gguf` is one file in the folder before it.
    let split = |path: &str| match path.rsplit_once('/') {
        Some((folder, file)) if file.ends_with(".gguf") => {
            (folder.to_string(), Some(file.to_string()))
        }
        None if path.ends_with(".gguf") => (String::new(), Some(path.to_string())),
        _ => (path.trim_end_matches('/').to_string(), None),
    };
    if let Ok(bucket) = env.bucket(BUCKET_BINDING) {
        let (prefix, gguf) = split(&text(env, "MODEL_PREFIX").unwrap_or_default());
        let prefix = match prefix.is_empty() || prefix.ends_with('/') {
            true => prefix,
            false => format!("{prefix}/"),
        };
        return Ok((Origin::Bucket { bucket, prefix }, gguf));
    }
    match text(env, "MODEL_URL") {
        Some(url) => {
            let (base, gguf) = split(&url);
            Ok((Origin::Url(base), gguf))
        }
        None => Err(format!(
            "set UPSTREAM_URL (forward to a server), or MODEL_URL or the {BUCKET_BINDING} R2 \
             binding (run the model in the worker)"
        )),
    }
}

/// A var or secret; empty counts as unset.
fn text(env: &Env, name: &str) -> Option<String> {
    let value = env
        .var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|s| s.to_string()))
        .ok()?;
    (!value.trim().is_empty()).then_some(value)
}

fn number(env: &Env, name: &str, default: u64) -> Result<u64, String> {
    match text(env, name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a whole number, got {value:?}")),
    }
}
