//! Which checkpoint to run and where: the flags `hearth serve` and `hearth chat` share.

use std::path::PathBuf;
use std::time::Instant;

use crate::backend::{self, Backend};
use crate::engine::Engine;
use crate::model::Precision;
use crate::native::files::DirSource;
use crate::native::hub::{DEFAULT_REPO, Hub, HubSettings};
use crate::native::progress;

#[derive(clap::Args)]
pub struct CheckpointOptions {
    /// A local checkpoint directory (config.json, model.safetensors, tokenizer.json, ...).
    #[arg(long, conflicts_with = "model")]
    pub model_dir: Option<PathBuf>,
    /// A Hugging Face repository, downloaded into the hub cache (HF_HOME, HF_ENDPOINT,
    /// HF_TOKEN, HF_HUB_OFFLINE apply) [default: Qwen/Qwen2.5-0.5B-Instruct].
    #[arg(long)]
    pub model: Option<String>,
    /// The repository's branch, tag or commit.
    #[arg(long, default_value = "main", requires = "model")]
    pub revision: String,
    /// The id clients name (default: the directory's or repository's last segment).
    #[arg(long)]
    pub model_id: Option<String>,
    /// cpu or wgpu (default: wgpu when an adapter exists, else cpu).
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// f32, f16 or bf16, or weights quantized at load: q8 (int8) or q4 (int4), in blocks of
    /// 32 with a scale each (CPU only).
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    pub dtype: Precision,
}

fn parse_backend(name: &str) -> Result<Backend, String> {
    Backend::parse(name).ok_or_else(|| format!("unknown backend {name:?}; use cpu or wgpu"))
}

fn parse_dtype(name: &str) -> Result<Precision, String> {
    Precision::parse(name)
        .ok_or_else(|| format!("unknown dtype {name:?}; use {}", Precision::NAMES))
}

pub struct Loaded {
    pub engine: Engine,
    pub id: String,
}

impl CheckpointOptions {
    /// Finds (or downloads) the checkpoint, picks the device and loads it.
    pub fn load(&self) -> Result<Loaded, String> {
        let (dir, default_id) = match &self.model_dir {
            Some(dir) => {
                let name = dir
                    .canonicalize()
                    .unwrap_or(dir.clone())
                    .file_name()
                    .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
                (dir.clone(), name)
            }
            None => {
                let repo = self.model.as_deref().unwrap_or(DEFAULT_REPO);
                let dir = Hub::new(HubSettings::from_env())
                    .snapshot(repo, &self.revision)
                    .map_err(|e| e.to_string())?;
                let name = repo.rsplit('/').next().unwrap_or(repo).to_string();
                (dir, name)
            }
        };
        let gpu = || {
            let (device, info) = backend::wgpu().map_err(|e| format!("no wgpu adapter: {e}"))?;
            tracing::info!(adapter = %info.adapter, max_buffer_mib = info.max_buffer_bytes >> 20, "wgpu");
            Ok::<_, String>((device, Backend::Wgpu))
        };
        let (device, backend) = match self.backend {
            Some(Backend::Cpu) => (backend::cpu(), Backend::Cpu),
            Some(Backend::Wgpu) => gpu()?,
            // Quantized weights are read by the CPU kernels only.
            None if self.dtype.float_dtype().is_none() => (backend::cpu(), Backend::Cpu),
            None => match gpu() {
                Ok(picked) => picked,
                Err(e) => {
                    tracing::info!(reason = %e, "no wgpu adapter; running on the CPU");
                    (backend::cpu(), Backend::Cpu)
                }
            },
        };
        let started = Instant::now();
        let bar = progress::bytes("loading weights", None);
        let report = bar.clone();
        let progress = Box::new(move |done, total| {
            report.set_length(total);
            report.set_position(done);
        });
        let engine =
            Engine::load_with_progress(&DirSource::new(&dir), &device, self.dtype, progress)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        bar.finish_and_clear();
        let id = self.model_id.clone().unwrap_or(default_id);
        tracing::info!(model = %id, backend = backend.name(), dtype = %self.dtype, ms = started.elapsed().as_millis() as u64, "model loaded");
        Ok(Loaded { engine, id })
    }
}
