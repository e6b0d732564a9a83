//! Text in and out of the model: tokenizer, chat template, streaming detokenizer and the JSON
//! configs that tie them together. Pure computation over bytes, so it also runs on wasm.

mod chat;
mod config;
mod detokenizer;
mod error;
mod python;
mod reasoning;
mod strftime;
mod template;
mod tokenizer;

#[cfg(test)]
mod tests;

pub use chat::{ChatFormat, Prompt, TextFiles};
pub use config::{GenerationConfig, TokenizerConfig};
pub use detokenizer::Detokenizer;
pub use error::TextError;
pub use reasoning::{ReasoningSplitter, Split};
pub use template::{ChatTemplate, Clock, Message};
pub use tokenizer::Tokenizer;
