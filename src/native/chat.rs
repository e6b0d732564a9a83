//! `hearth chat`: a conversation in the terminal, the answer printed as it is generated.

use std::io::{BufRead, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::generate::{FinishReason, GenerationRequest, SamplingParams, generate};
use crate::native::checkpoint::{CheckpointOptions, Loaded};
use crate::text::Message;

#[derive(clap::Args)]
pub struct ChatOptions {
    #[command(flatten)]
    pub checkpoint: CheckpointOptions,
    /// A system message opening the conversation.
    #[arg(long)]
    pub system: Option<String>,
    /// 0 answers greedily.
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f32,
    #[arg(long, default_value_t = 0.8)]
    pub top_p: f32,
    /// The longest answer, in tokens.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: usize,
    /// Print tokens/s after each answer.
    #[arg(long)]
    pub stats: bool,
}

pub fn run(options: ChatOptions) -> Result<(), String> {
    let sampling = SamplingParams {
        temperature: options.temperature,
        top_p: options.top_p,
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        ..SamplingParams::default()
    };
    sampling.validate().map_err(|e| e.to_string())?;
    let Loaded { engine, id } = options.checkpoint.load()?;
    let context = engine.context_length();
    let mut history: Vec<Message> = options
        .system
        .iter()
        .map(|s| Message::new("system", s))
        .collect();
    eprintln!("{id}: type a message, Enter to send; an empty line or Ctrl-D ends the chat.");
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let mut turn = 0u64;
    loop {
        eprint!("> ");
        let mut line = String::new();
        if stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?
            == 0
        {
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        history.push(Message::new("user", line));
        let prompt_ids = engine
            .format
            .prompt_ids(&history)
            .map_err(|e| e.to_string())?;
        if prompt_ids.len() >= context {
            history.pop();
            eprintln!(
                "(the conversation is {} tokens, the model's context is {context}: start a new chat)",
                prompt_ids.len()
            );
            continue;
        }
        let request = GenerationRequest {
            max_tokens: options.max_tokens.min(context - prompt_ids.len()),
            prompt_ids,
            n: 1,
            sampling: SamplingParams {
                seed: sampling.seed.wrapping_add(turn),
                ..sampling.clone()
            },
            stop: Vec::new(),
            cancel: Default::default(),
        };
        turn += 1;
        let started = Instant::now();
        let answers = pollster::block_on(generate(
            &engine.model,
            &engine.format,
            &request,
            |_, text| {
                print!("{text}");
                stdout.flush().is_ok()
            },
        ))
        .map_err(|e| e.to_string())?;
        let answer = answers.into_iter().next().expect("n = 1 gives one answer");
        println!();
        if answer.finish_reason == FinishReason::Length {
            eprintln!("(cut at {} tokens)", request.max_tokens);
        }
        if options.stats {
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "({} tokens in {seconds:.2} s, {:.1} tokens/s)",
                answer.completion_tokens(),
                f64::from(answer.completion_tokens()) / seconds
            );
        }
        history.push(Message::new("assistant", answer.text));
    }
    Ok(())
}
