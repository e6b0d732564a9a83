//! The `hearth` command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hearth::native::bench::{self, BenchOptions};
use hearth::native::chat::{self, ChatOptions};
use hearth::native::make_test_model;
use hearth::native::serve::{self, ServeOptions};

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "Qwen2-family chat models: serve, chat, bench"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a checkpoint over HTTP: POST /api/v1/chat/completion_messages and friends.
    Serve(ServeOptions),
    /// Chat in the terminal; the answer streams as it is generated.
    Chat(ChatOptions),
    /// Measure prefill and decode speed, time to first token, load time and peak memory.
    Bench(BenchOptions),
    /// Write a checkpoint directory with seeded random weights in Qwen2's real layout.
    #[command(after_help = format!("Presets:\n{}", make_test_model::preset_help()))]
    MakeTestModel {
        /// The directory to write.
        #[arg(long)]
        out: PathBuf,
        /// The model shape.
        #[arg(long)]
        preset: String,
        /// tokenizer.json to ship with it (default: the one scripts/fetch-tokenizer.sh fetched).
        #[arg(long)]
        tokenizer: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The dtype of the stored weights (f32, f16, bf16; default: the preset's).
        #[arg(long)]
        dtype: Option<String>,
        /// Split the weights over this many files with model.safetensors.index.json.
        #[arg(long, default_value_t = 1)]
        shards: usize,
    },
}

fn main() -> ExitCode {
    // hearth's own progress at info; the libraries' (autotune notes and such) only when wrong.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,hearth=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match Cli::parse().command {
        Command::Serve(options) => serve::run(options),
        Command::Chat(options) => chat::run(options),
        Command::Bench(options) => bench::run(options),
        Command::MakeTestModel {
            out,
            preset,
            tokenizer,
            seed,
            dtype,
            shards,
        } => make_test_model::run(
            &out,
            &preset,
            tokenizer.as_deref(),
            seed,
            dtype.as_deref(),
            shards,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hearth: {message}");
            ExitCode::FAILURE
        }
    }
}
