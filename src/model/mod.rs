//! The decoder families (Qwen2, Qwen3, Llama): their description, the typed config, the
//! checkpoint files, and the network on the CPU or a GPU (our kernels; burn's tensor ops as
//! the baseline).

pub mod architecture;
mod cache;
mod config;
pub mod cpu;
mod error;
pub mod gguf;
#[cfg(feature = "gpu")]
pub mod gpu;
mod layout;
mod network;
mod precision;
mod rope;
pub mod safetensors;
pub mod synthetic;
mod tensor_network;
mod vocab;
mod weights;

pub use architecture::Family;
pub use cache::TensorCache;
pub use config::{ConfigWriter, ModelConfig, RopeParameters, RopeScaling};
pub use error::{DeviceError, LoadError, TensorError};
pub use network::{GpuKernels, KvCache, Logits, Network, Step};
pub use precision::Precision;
pub use rope::Rope;
pub use tensor_network::TensorNetwork;
pub use vocab::VocabMatrix;
pub use weights::{FileSource, INDEX_FILE, LoadProgress, SINGLE_FILE, ShardIndex, Weights};
