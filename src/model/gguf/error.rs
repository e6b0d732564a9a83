//! Why a GGUF file could not be read: each variant names the file, the tensor or metadata
//! key where there is one, and what is wrong, in terms a user can check with a hex dump.

use thiserror::Error;

use super::dequant::DequantError;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum GgufError {
    #[error(
        "{file}: truncated at byte {len} while reading {what} (it needs bytes [{start}, {end}))"
    )]
    Truncated {
        file: String,
        what: String,
        start: u64,
        end: u64,
        len: u64,
    },
    #[error("{file}: not a GGUF file (magic {found}, expected \"GGUF\")")]
    Magic { file: String, found: String },
    #[error("{file}: GGUF version {version} is not supported, only versions 2 and 3 are{hint}")]
    Version {
        file: String,
        version: u32,
        /// Why this version cannot be read, when we know.
        hint: String,
    },
    /// The header's structure is wrong where no tensor is concerned (a metadata value, a count).
    #[error("{file}: {what} (at byte {at}): {message}")]
    Format {
        file: String,
        what: String,
        at: u64,
        message: String,
    },
    #[error("{file}: unknown tensor type {id} for tensor {tensor}")]
    UnknownType {
        file: String,
        tensor: String,
        id: u32,
    },
    #[error(
        "{file}: tensor {tensor} has type {name} (ggml type {id}), which is not supported (supported: {supported})"
    )]
    UnsupportedType {
        file: String,
        tensor: String,
        id: u32,
        name: &'static str,
        supported: String,
    },
    #[error("{file}: tensor {tensor}: data [{start}, {end}) lies outside the file of {len} bytes")]
    OutsideFile {
        file: String,
        tensor: String,
        start: u64,
        end: u64,
        len: u64,
    },
    /// A tensor's description is inconsistent (its shape, offset or name).
    #[error("{file}: tensor {tensor}: {message}")]
    Tensor {
        file: String,
        tensor: String,
        message: String,
    },
    #[error("{file}: tensor {tensor} is missing")]
    MissingTensor { file: String, tensor: String },
    #[error("{file}: metadata key {key} is missing")]
    MissingKey { file: String, key: String },
    #[error("{file}: metadata key {key} is {found}, expected {expected}")]
    KeyType {
        file: String,
        key: String,
        expected: &'static str,
        found: String,
    },
    #[error("{file}: tensor {tensor}: {cause}")]
    Dequant {
        file: String,
        tensor: String,
        cause: DequantError,
    },
    /// A metadata value hearth does not run.
    #[error("{file}: {key} \"{found}\" is not supported (supported: {supported})")]
    Unsupported {
        file: String,
        key: String,
        found: String,
        supported: String,
    },
    /// A metadata value of the right type that still cannot be used.
    #[error("{file}: {key} {message}")]
    Value {
        file: String,
        key: &'static str,
        message: String,
    },
}
