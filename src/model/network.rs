//! The network a device runs: on the CPU our own kernels over the weights in their stored or
//! quantized format ([`CpuNetwork`]); on a GPU burn tensors ([`TensorNetwork`]). Both load
//! through the same walk over the checkpoint's names and answer the same calls.

use burn::tensor::{Device, Tensor};

use super::cpu::{CpuCache, CpuNetwork};
use super::{LoadError, ModelConfig, Precision, TensorCache, TensorNetwork, Weights};

// One value per loaded model: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Network {
    Cpu(CpuNetwork),
    Tensors(TensorNetwork),
}

/// One sequence's state, for the network that made it.
#[derive(Clone)]
pub enum KvCache {
    Cpu(Box<CpuCache>),
    Tensors(TensorCache),
}

/// The last position's logits, `vocab` long: on the host, or `[1, vocab]` on the device.
// Moved once per token; boxing the tensor would allocate once per token instead.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum Logits {
    Host(Vec<f32>),
    Device(Tensor<2>),
}

impl Logits {
    /// The logits as a vector, read back from the device when they are there.
    pub async fn into_vec(self) -> Result<Vec<f32>, String> {
        match self {
            Self::Host(row) => Ok(row),
            Self::Device(t) => {
                let data = t.into_data_async().await.map_err(|e| format!("{e:?}"))?;
                data.try_into_vec::<f32>().map_err(|e| format!("{e:?}"))
            }
        }
    }

    /// The index of the largest logit, reading back only that from a device.
    pub async fn argmax(self) -> Result<u32, String> {
        match self {
            Self::Host(row) => Ok(crate::generate::sampler::argmax(&row)),
            Self::Device(t) => {
                let data = t
                    .argmax(1)
                    .into_data_async()
                    .await
                    .map_err(|e| format!("{e:?}"))?;
                Ok(data.iter::<i64>().next().expect("one id") as u32)
            }
        }
    }
}

impl Network {
    /// The CPU network on flex, the tensor network on any other device (in the buffer size it
    /// registered, see `backend::buffer_limit`).
    pub fn load(
        config: ModelConfig,
        weights: &Weights,
        device: &Device,
        precision: Precision,
    ) -> Result<Self, LoadError> {
        if *device == Device::flex() {
            return Ok(Self::Cpu(CpuNetwork::load(config, weights, precision)?));
        }
        let dtype = precision
            .float_dtype()
            .filter(|&dtype| device.supports_dtype(dtype))
            .ok_or_else(|| LoadError::UnsupportedDtype {
                backend: format!("{device:?}"),
                dtype: precision.to_string(),
                hint: match precision.float_dtype() {
                    None => "; quantized weights run on the CPU (--backend cpu)".into(),
                    Some(_) => String::new(),
                },
            })?;
        TensorNetwork::load(config, weights, device, dtype).map(Self::Tensors)
    }

    pub fn config(&self) -> &ModelConfig {
        match self {
            Self::Cpu(m) => m.config(),
            Self::Tensors(m) => m.config(),
        }
    }

    /// Where it runs, for logs.
    pub fn device(&self) -> Device {
        match self {
            Self::Cpu(_) => Device::flex(),
            Self::Tensors(m) => m.device().clone(),
        }
    }

    /// What the weights are held in, by name (`f32`, `q4`, ...).
    pub fn precision(&self) -> String {
        match self {
            Self::Cpu(m) => m.precision().to_string(),
            Self::Tensors(m) => format!("{:?}", m.dtype()).to_lowercase(),
        }
    }

    /// The bytes the weights take on the CPU; `None` on a GPU.
    pub fn host_weight_bytes(&self) -> Option<usize> {
        match self {
            Self::Cpu(m) => Some(m.weight_bytes()),
            Self::Tensors(_) => None,
        }
    }

    /// An empty cache for a sequence of at most `capacity` positions.
    pub fn new_cache(&self, capacity: usize) -> KvCache {
        match self {
            Self::Cpu(m) => KvCache::Cpu(Box::new(m.new_cache(capacity))),
            Self::Tensors(m) => KvCache::Tensors(m.new_cache(capacity)),
        }
    }

    /// Runs `ids` at the cache's next positions and returns the logits of the last one.
    /// Prefill passes the whole prompt, decode one token.
    pub fn forward(&self, ids: &[u32], cache: &mut KvCache) -> Logits {
        match (self, cache) {
            (Self::Cpu(m), KvCache::Cpu(c)) => Logits::Host(m.forward(ids, c)),
            (Self::Tensors(m), KvCache::Tensors(c)) => Logits::Device(m.forward(ids, c)),
            _ => panic!("a cache is used with the network that made it"),
        }
    }
}
