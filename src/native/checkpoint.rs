//! Which checkpoint to run and where: the flags `hearth serve` and `hearth chat` share.

use std::path::PathBuf;
use std::time::Instant;

use crate::backend::{self, Backend};
use crate::engine::Engine;
use crate::model::{FileSource, Precision};
use crate::native::files::DirSource;
use crate::native::hub::{DEFAULT_REPO, Hub, HubSettings};
use crate::native::progress;

#[derive(clap::Args)]
pub struct CheckpointOptions {
    /// A local checkpoint directory (config.json, model.safetensors, tokenizer.json, ...).
    #[arg(long, conflicts_with_all = ["model", "model_file"])]
    pub model_dir: Option<PathBuf>,
    /// A GGUF file: the whole model (config, tokenizer and chat template from its metadata).
    #[arg(long, conflicts_with = "model")]
    pub model_file: Option<PathBuf>,
    /// A Hugging Face repository, downloaded into the hub cache (HF_HOME, HF_ENDPOINT,
    /// HF_TOKEN, HF_HUB_OFFLINE apply) [default: Qwen/Qwen2.5-0.5B-Instruct]; ORG/NAME:QUANT
    /// takes the repository's one .gguf file whose name contains QUANT (e.g.
    /// Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q8_0).
    #[arg(long)]
    pub model: Option<String>,
    /// The repository's branch, tag or commit.
    #[arg(long, default_value = "main", requires = "model")]
    pub revision: String,
    /// The id clients name (default: the directory's or repository's last segment).
    #[arg(long)]
    pub model_id: Option<String>,
    /// cpu or wgpu (default: wgpu on a real GPU, else cpu; a software adapter such as
    /// lavapipe only when asked for); wgpu-burn runs burn's tensor ops instead of hearth's
    /// kernels, for comparison.
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// f32, f16 or bf16, or weights quantized at load: q8 (int8) or q4 (int4), in blocks of
    /// 32 with a scale each [default: f32; for a GGUF file its own format: q8 for
    /// Q8_0, q4 for Q4_0, f16 for the k-quants and other block types].
    #[arg(long, value_parser = parse_dtype)]
    pub dtype: Option<Precision>,
}

/// Where the weights come from.
enum Checkpoint {
    Dir(PathBuf),
    Gguf(PathBuf),
}

fn parse_backend(name: &str) -> Result<Backend, String> {
    Backend::parse(name)
        .ok_or_else(|| format!("unknown backend {name:?}; use cpu, wgpu or wgpu-burn"))
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
        let last = |path: &std::path::Path| {
            path.canonicalize()
                .unwrap_or(path.to_path_buf())
                .file_name()
                .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned())
        };
        let (checkpoint, default_id) = match (&self.model_dir, &self.model_file) {
            (Some(dir), _) => (Checkpoint::Dir(dir.clone()), last(dir)),
            (None, Some(file)) => {
                let id = last(file).trim_end_matches(".gguf").to_string();
                (Checkpoint::Gguf(file.clone()), id)
            }
            (None, None) => {
                let name = self.model.as_deref().unwrap_or(DEFAULT_REPO);
                let hub = Hub::new(HubSettings::from_env());
                let (repo, quant) = match name.split_once(':') {
                    Some((repo, quant)) => (repo, Some(quant)),
                    None => (name, None),
                };
                let id = repo.rsplit('/').next().unwrap_or(repo).to_string();
                let checkpoint = match quant {
                    Some(quant) => Checkpoint::Gguf(
                        hub.gguf(repo, &self.revision, quant)
                            .map_err(|e| e.to_string())?,
                    ),
                    None => Checkpoint::Dir(
                        hub.snapshot(repo, &self.revision)
                            .map_err(|e| e.to_string())?,
                    ),
                };
                (checkpoint, id)
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
            Some(Backend::WgpuBurn) => {
                let (device, _) = gpu()?;
                if let Some(gpu) = backend::gpu_of(&device) {
                    gpu.set_kernels(crate::model::GpuKernels::Burn);
                }
                (device, Backend::WgpuBurn)
            }
            // Only a real GPU by default: a software adapter runs far slower than the CPU
            // network does.
            None => match backend::wgpu() {
                Ok((_, info)) if info.software => {
                    tracing::info!(adapter = %info.adapter, "the only wgpu adapter is a software one; running on the CPU (--backend wgpu to use it)");
                    (backend::cpu(), Backend::Cpu)
                }
                Ok(_) => gpu()?,
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
        let engine = match &checkpoint {
            Checkpoint::Dir(dir) => Engine::load_with_progress(
                &DirSource::new(dir),
                &device,
                self.dtype.unwrap_or(Precision::F32),
                progress,
            )
            .map_err(|e| format!("{}: {e}", dir.display()))?,
            Checkpoint::Gguf(file) => {
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
                let name = name.unwrap_or_default();
                let dir = file.parent().unwrap_or(std::path::Path::new("."));
                let blob = DirSource::new(dir)
                    .require(&name)
                    .map_err(|e| e.to_string())?;
                let shown = file.display().to_string();
                Engine::load_gguf(&shown, blob, &device, self.dtype, progress)
                    .map_err(|e| e.to_string())?
            }
        };
        bar.finish_and_clear();
        let id = self.model_id.clone().unwrap_or(default_id);
        let dtype = engine.model.precision();
        tracing::info!(model = %id, backend = backend.name(), %dtype, ms = started.elapsed().as_millis() as u64, "model loaded");
        Ok(Loaded { engine, id })
    }
}
