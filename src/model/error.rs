//! Why a checkpoint failed to load (each variant names the file and what is wrong), and why
//! a device could not hand back a result.

use std::sync::Arc;

use thiserror::Error;

use super::gguf::GgufError;
use crate::text::TextError;

#[derive(Debug, Error, Clone)]
pub enum LoadError {
    #[error("{file}: not found in {location}")]
    MissingFile { file: String, location: String },
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        /// Shared so the error stays `Clone` (a load failure is reported to every waiter).
        #[source]
        source: Arc<std::io::Error>,
    },
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
    #[error("{file}: tensor {tensor}: {source}")]
    Tensor {
        file: String,
        tensor: String,
        #[source]
        source: TensorError,
    },
    /// A GGUF file; the message names it, the tensor or key, and what is wrong.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A tokenizer or chat-template file; the message names it.
    #[error(transparent)]
    Text(Arc<TextError>),
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

/// What is wrong with one tensor's contents; [`LoadError::Tensor`] names the file and tensor.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TensorError {
    #[error("{stored} bytes stored, but shape {shape:?} in {dtype} needs {needed}")]
    Size {
        stored: usize,
        shape: Vec<usize>,
        dtype: String,
        needed: usize,
    },
    #[error(
        "{cols} columns are not a whole number of {block}-value blocks, as {reader} reads them"
    )]
    Blocks {
        cols: usize,
        block: usize,
        reader: String,
    },
    #[error("cannot convert to {0}")]
    Convert(String),
    #[error("the matrices stacked into one product differ in format or width")]
    Stack,
}

/// Why a result could not be read back from a device.
#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("GPU logits read after their sequence ran another pass")]
    Stale,
    #[error("the GPU dropped a readback")]
    Dropped,
    /// Waiting, mapping or reading failed; the runtime's message.
    #[error("reading back from the GPU: {0}")]
    Readback(String),
    /// The device went away (a driver reset, a browser tab in the background, `destroy()`).
    #[error("the GPU device was lost ({0}); the model must be loaded again")]
    Lost(String),
}
