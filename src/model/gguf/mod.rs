//! GGUF, llama.cpp's single-file checkpoint: the header (metadata and tensor infos) read
//! from the file's bytes without copying the tensors, ggml's block types dequantized to f32
//! exactly as ggml's reference code does, the file read as a whole model (`model`,
//! `tokenizer`), and test models written as GGUF (`export`).

mod dequant;
mod error;
pub mod export;
mod file;
pub mod model;
mod quantize;
pub mod tokenizer;
mod types;
mod value;
mod writer;

pub use dequant::{DequantError, dequantize};
pub use error::GgufError;
pub use file::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, Gguf, MAX_DIMS, TensorInfo, optional};
pub use types::{GgmlType, QK_K, ggml_type_name};
pub use value::{Array, Value, ValueType};

#[cfg(test)]
mod tests;
