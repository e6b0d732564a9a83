//! GGUF, llama.cpp's single-file checkpoint: the header (metadata and tensor infos) read
//! from the file's bytes without copying the tensors, and ggml's block types dequantized
//! to f32 exactly as ggml's reference code does.

mod dequant;
mod error;
mod file;
pub mod model;
pub mod tokenizer;
mod types;
mod value;

pub use dequant::{DequantError, dequantize};
pub use error::GgufError;
pub use file::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, Gguf, MAX_DIMS, TensorInfo, optional};
pub use types::{GgmlType, QK_K, ggml_type_name};
pub use value::{Array, Value, ValueType};

#[cfg(test)]
mod tests;
