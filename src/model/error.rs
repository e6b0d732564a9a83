//! Why a checkpoint failed to load: each variant names the file and what is wrong.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum LoadError {
    #[error("{file}: not found in {location}")]
    MissingFile { file: String, location: String },
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}: invalid JSON: {message}")]
    Json { file: String, message: String },
    #[error("{file}: {message}")]
    Config { file: String, message: String },
    #[error("config.json: model_type \"{model_type}\" is not supported (supported: {supported})")]
    UnsupportedModel {
        model_type: String,
        supported: String,
    },
    #[error("{file}: not a safetensors file: {message}")]
    BadHeader { file: String, message: String },
    #[error(
        "{file}: truncated: tensor {tensor} needs bytes {start}..{end} of the data section, which holds only {available} bytes"
    )]
    Truncated {
        file: String,
        tensor: String,
        start: usize,
        end: usize,
        available: usize,
    },
    #[error("{file}: tensor {tensor} is missing")]
    MissingTensor { file: String, tensor: String },
    #[error("{file}: tensor {tensor} has shape {found:?}, expected {expected:?}")]
    Shape {
        file: String,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error(
        "{file}: tensor {tensor} has dtype {dtype}; only F32, F16 and BF16 weights are supported"
    )]
    Dtype {
        file: String,
        tensor: String,
        dtype: String,
    },
    #[error("{file}: tensor {tensor}: {message}")]
    Tensor {
        file: String,
        tensor: String,
        message: String,
    },
    /// A GGUF file; the message names it, the tensor or key, and what is wrong.
    #[error("{0}")]
    Gguf(String),
    /// A tokenizer or chat-template file; the message names it.
    #[error("{0}")]
    Text(String),
    #[error(
        "tensor {tensor} needs {bytes} bytes in one buffer, over the device's limit of {limit} bytes per buffer; run it on the CPU or in a narrower dtype"
    )]
    TooLarge {
        tensor: String,
        bytes: u64,
        limit: u64,
    },
    #[error("the {backend} backend cannot run dtype {dtype}{hint}")]
    UnsupportedDtype {
        backend: String,
        dtype: String,
        /// What would run it, when something would.
        hint: String,
    },
}
