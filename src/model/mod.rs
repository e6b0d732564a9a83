//! Qwen2: the typed config, the safetensors checkpoint, and the network on the CPU (our
//! kernels) or a GPU (burn tensors).

mod cache;
mod config;
pub mod cpu;
mod error;
mod layout;
mod network;
mod precision;
mod qwen2;
mod rope;
pub mod safetensors;
pub mod synthetic;
mod vocab;
mod weights;

pub use cache::TensorCache;
pub use config::{Qwen2Config, SUPPORTED_MODEL_TYPES};
pub use error::LoadError;
pub use network::{KvCache, Logits, Qwen2};
pub use precision::Precision;
pub use qwen2::TensorQwen2;
pub use rope::Rope;
pub use vocab::VocabMatrix;
pub use weights::{FileSource, INDEX_FILE, LoadProgress, SINGLE_FILE, ShardIndex, Weights};
