//! The `hearth` command.

use std::io::IsTerminal;
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
    /// Write a checkpoint directory with seeded random weights in a family's real layout.
    #[command(after_help = format!("Presets:\n{}", make_test_model::preset_help()))]
    MakeTestModel(make_test_model::MakeTestModelOptions),
}

fn main() -> ExitCode {
    // Past a file size limit (`ulimit -f`) a write fails with EFBIG, which a download reports
    // as a full disk, instead of the signal ending the process.
    #[cfg(unix)]
    // Safety: setting a signal's disposition to "ignore" before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
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
        Command::MakeTestModel(options) => make_test_model::run(&options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hearth: {message}");
            ExitCode::FAILURE
        }
    }
}
