//! `hearth bench`: prefill and decode speed, time to first token, load time and peak memory
//! of one checkpoint, measured as llama-bench measures them (a prompt of random tokens in one
//! forward pass; decode one token at a time from an empty KV cache), so the two compare.

use std::time::Instant;

use crate::engine::Engine;
use crate::model::gpu::GpuCounts;
use crate::model::{Logits, Network};
use crate::native::checkpoint::CheckpointOptions;

#[derive(clap::Args)]
pub struct BenchOptions {
    #[command(flatten)]
    pub checkpoint: CheckpointOptions,
    /// CPU threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Tokens in the prefill pass.
    #[arg(long, default_value_t = 128)]
    pub prompt_tokens: usize,
    /// Tokens decoded one at a time from an empty cache.
    #[arg(long, default_value_t = 64)]
    pub gen_tokens: usize,
    /// Measured runs of each, after one warm-up run.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// One JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

pub fn run(options: BenchOptions) -> Result<(), String> {
    if let Some(threads) = options.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| format!("--threads {threads}: {e}"))?;
    }
    if options.repeat == 0 || options.prompt_tokens == 0 || options.gen_tokens == 0 {
        return Err("--repeat, --prompt-tokens and --gen-tokens must be at least 1".into());
    }
    let started = Instant::now();
    let loaded = options.checkpoint.load()?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let model = &loaded.engine.model;
    let context = options.prompt_tokens.max(options.gen_tokens);
    if context > model.config().max_position_embeddings {
        return Err(format!(
            "--prompt-tokens/--gen-tokens {context} exceed the model's context of {}",
            model.config().max_position_embeddings
        ));
    }
    let prompt = random_tokens(&loaded.engine, options.prompt_tokens);

    // The warm-up also lets the GPU backend compile and autotune its kernels.
    prefill(model, &prompt);
    decode(model, prompt[0], options.gen_tokens.min(4));
    let (mut prefills, mut ttfts, mut decodes) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_counts = None;
    for _ in 0..options.repeat {
        let seconds = prefill(model, &prompt);
        prefills.push(prompt.len() as f64 / seconds);
        ttfts.push(seconds * 1e3);
        let (seconds, counts) = decode(model, prompt[0], options.gen_tokens);
        decodes.push(options.gen_tokens as f64 / seconds);
        last_counts = Some(counts);
    }
    // What hearth's GPU network launched and moved per decoded token (the same every run).
    let gpu_counts = match model {
        Network::Gpu(_) => last_counts.map(|c| per_token(c, options.gen_tokens)),
        _ => None,
    };
    let report = Report {
        prefill: Stats::of(&prefills),
        decode: Stats::of(&decodes),
        ttft_ms: Stats::of(&ttfts).mean,
        load_ms,
        peak_rss_mb: status_mb("VmHWM:"),
        rss_mb: status_mb("VmRSS:"),
        weights_mb: model.host_weight_bytes().map(|b| b as f64 / 1048576.0),
    };
    let dtype = model.precision();
    let threads = options.threads.unwrap_or_else(rayon::current_num_threads);
    if options.json {
        let json = serde_json::json!({
            "model": loaded.id,
            "device": model.device_name(),
            "dtype": dtype,
            "threads": threads,
            "prompt_tokens": options.prompt_tokens,
            "gen_tokens": options.gen_tokens,
            "repeat": options.repeat,
            "prefill_tok_s": round2(report.prefill.mean),
            "prefill_tok_s_sd": round2(report.prefill.sd),
            "decode_tok_s": round2(report.decode.mean),
            "decode_tok_s_sd": round2(report.decode.sd),
            "ttft_ms": round2(report.ttft_ms),
            "load_ms": round2(report.load_ms),
            "peak_rss_mb": round2(report.peak_rss_mb),
            "rss_mb": round2(report.rss_mb),
            "weights_mb": report.weights_mb.map(round2),
            "dispatches_per_token": gpu_counts.map(|c| round2(c[0])),
            "submissions_per_token": gpu_counts.map(|c| round2(c[1])),
            "readback_bytes_per_token": gpu_counts.map(|c| round2(c[2])),
            "gpu_allocations_per_token": gpu_counts.map(|c| round2(c[3])),
        });
        println!("{json}");
    } else {
        println!(
            "{} on {}, {dtype}, {threads} threads, {} runs",
            loaded.id,
            model.device_name(),
            options.repeat
        );
        println!("load      {:>9.0} ms", report.load_ms);
        println!(
            "prefill   {:>9.1} tok/s ± {:.1} ({} tokens; time to first token {:.0} ms)",
            report.prefill.mean, report.prefill.sd, options.prompt_tokens, report.ttft_ms
        );
        println!(
            "decode    {:>9.1} tok/s ± {:.1} ({} tokens from an empty cache)",
            report.decode.mean, report.decode.sd, options.gen_tokens
        );
        println!(
            "peak RSS  {:>9.0} MiB (loading included)",
            report.peak_rss_mb
        );
        let weights = match report.weights_mb {
            Some(mb) => format!(" (weights {mb:.0} MiB)"),
            None => String::new(),
        };
        println!(
            "RSS       {:>9.0} MiB after the runs{weights}",
            report.rss_mb
        );
        if let Some([dispatches, submissions, readback, allocations]) = gpu_counts {
            println!(
                "per token {dispatches:>9.1} dispatches, {submissions:.1} submissions, {readback:.0} bytes read back, {allocations:.1} GPU allocations"
            );
        }
    }
    Ok(())
}

struct Report {
    prefill: Stats,
    decode: Stats,
    ttft_ms: f64,
    load_ms: f64,
    peak_rss_mb: f64,
    /// Resident while serving: after the runs, the load's transients gone.
    rss_mb: f64,
    /// What the weights take on the CPU.
    weights_mb: Option<f64>,
}

struct Stats {
    mean: f64,
    /// Standard deviation over the runs.
    sd: f64,
}

impl Stats {
    fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Self {
            mean,
            sd: var.sqrt(),
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Seconds from the prompt to its first token's id on the host: one prefill pass.
fn prefill(model: &Network, prompt: &[u32]) -> f64 {
    let mut cache = model.new_cache(prompt.len() + 1);
    let started = Instant::now();
    std::hint::black_box(argmax(model.forward(prompt, &mut cache)));
    started.elapsed().as_secs_f64()
}

/// Seconds for `n` single-token steps from an empty cache, each reading back its token, and
/// what the GPU network did meanwhile (nothing counted elsewhere).
fn decode(model: &Network, start: u32, n: usize) -> (f64, GpuCounts) {
    let counts = || match model {
        Network::Gpu(m) => m.counts(),
        _ => GpuCounts::default(),
    };
    let mut cache = model.new_cache(n);
    let mut token = start;
    let before = counts();
    let started = Instant::now();
    for _ in 0..n {
        token = argmax(model.forward(&[token], &mut cache));
    }
    (started.elapsed().as_secs_f64(), counts().since(before))
}

/// Dispatches, submissions, bytes read back and buffers created per token.
fn per_token(c: GpuCounts, tokens: usize) -> [f64; 4] {
    [c.dispatches, c.submissions, c.readback_bytes, c.allocations].map(|v| v as f64 / tokens as f64)
}

fn argmax(logits: Logits) -> u32 {
    pollster::block_on(logits.argmax()).expect("the device answers")
}

/// Token ids spread over the tokenizer's vocabulary, the same every run (as llama-bench's
/// random prompt, but reproducible).
fn random_tokens(engine: &Engine, n: usize) -> Vec<u32> {
    let vocab = engine.format.tokenizer().vocab_size() as u64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % vocab) as u32
        })
        .collect()
}

/// A memory figure of /proc/self/status (`VmHWM:` peak, `VmRSS:` now), in MiB (the `_mb` keys of `--json` too).
fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with(key))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
