//! Qwen2 in burn: the typed config, the safetensors checkpoint, and the network.

mod cache;
mod config;
mod error;
mod qwen2;
mod rope;
pub mod safetensors;
pub mod synthetic;
mod vocab;
mod weights;

pub use cache::KvCache;
pub use config::{Qwen2Config, SUPPORTED_MODEL_TYPES};
pub use error::LoadError;
pub use qwen2::Qwen2;
pub use rope::Rope;
pub use vocab::VocabMatrix;
pub use weights::{FileSource, INDEX_FILE, LoadProgress, SINGLE_FILE, ShardIndex, Weights};
