//! The network a device runs: on the CPU our own kernels over the weights in their stored or
//! quantized format ([`CpuNetwork`]); on a GPU our own kernels too ([`GpuNetwork`]), or burn's
//! tensor ops ([`TensorNetwork`], kept as the baseline the GPU network is measured against).
//! All load through the same walk over the checkpoint's names and answer the same calls.

use burn::tensor::{Device, Tensor};

use super::cpu::{CpuCache, CpuNetwork, CpuStep};
#[cfg(feature = "gpu")]
use super::gpu::{GpuCache, GpuLogits, GpuNetwork};
use super::{DeviceError, LoadError, ModelConfig, Precision, TensorCache, TensorNetwork, Weights};
use crate::backend::Place;

// One value per loaded model: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Network {
    Cpu(CpuNetwork),
    #[cfg(feature = "gpu")]
    Gpu(GpuNetwork),
    Tensors(TensorNetwork),
}

/// Which network runs on a GPU device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GpuKernels {
    /// hearth's own kernels.
    #[default]
    Hearth,
    /// burn's tensor ops (the baseline).
    Burn,
}

/// One sequence's state, for the network that made it.
#[derive(Clone)]
pub enum KvCache {
    Cpu(Box<CpuCache>),
    #[cfg(feature = "gpu")]
    Gpu(Box<GpuCache>),
    Tensors(TensorCache),
}

impl KvCache {
    /// Forgets the positions from `len` on (a cached prefix kept for the next request); the
    /// next pass writes there.
    pub fn truncate(&mut self, len: usize) {
        match self {
            Self::Cpu(c) => c.truncate(len),
            #[cfg(feature = "gpu")]
            Self::Gpu(c) => c.truncate(len),
            Self::Tensors(c) => c.truncate(len),
        }
    }
}

/// The last position's logits, `vocab` long: on the host, or on the device.
// Moved once per token; boxing the tensor would allocate once per token instead.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum Logits {
    Host(Vec<f32>),
    /// Valid until its sequence runs its next pass.
    #[cfg(feature = "gpu")]
    Gpu(GpuLogits),
    Device(Tensor<2>),
}

impl Logits {
    /// The logits as a vector, read back from the device when they are there.
    pub async fn into_vec(self) -> Result<Vec<f32>, DeviceError> {
        match self {
            Self::Host(row) => Ok(row),
            #[cfg(feature = "gpu")]
            Self::Gpu(l) => l.into_vec().await,
            Self::Device(t) => {
                let data = t.into_data_async().await.map_err(tensor_readback)?;
                data.try_into_vec::<f32>().map_err(tensor_readback)
            }
        }
    }

    /// The index of the largest logit, reading back only that from a device.
    pub async fn argmax(self) -> Result<u32, DeviceError> {
        match self {
            Self::Host(row) => Ok(crate::generate::sampler::argmax(&row)),
            #[cfg(feature = "gpu")]
            Self::Gpu(l) => l.argmax().await,
            Self::Device(t) => {
                let data = t
                    .argmax(1)
                    .into_data_async()
                    .await
                    .map_err(tensor_readback)?;
                Ok(data.iter::<i64>().next().expect("one id") as u32)
            }
        }
    }

    /// Logits that outlive their sequence's next pass (n > 1 answers share the prompt's): on
    /// the host unless they already are or are a tensor of their own.
    pub async fn detached(self) -> Result<Self, DeviceError> {
        match self {
            #[cfg(feature = "gpu")]
            Self::Gpu(l) => l.into_vec().await.map(Self::Host),
            other => Ok(other),
        }
    }
}

/// burn's readback errors carry no `Display`.
fn tensor_readback(e: impl std::fmt::Debug) -> DeviceError {
    DeviceError::Readback(format!("{e:?}"))
}

impl Network {
    /// The CPU network on flex; on a GPU the GPU network (our kernels), or burn's tensor
    /// network where burn's wgpu device was set to it (`Gpu::set_kernels`), in the buffer
    /// size the device registered.
    pub fn load(
        config: ModelConfig,
        weights: &Weights,
        place: impl Into<Place>,
        precision: Precision,
    ) -> Result<Self, LoadError> {
        match place.into() {
            #[cfg(feature = "gpu")]
            Place::Gpu(gpu) => GpuNetwork::load(config, weights, gpu, precision).map(Self::Gpu),
            Place::Device(device) => Self::load_on(config, weights, &device, precision),
        }
    }

    fn load_on(
        config: ModelConfig,
        weights: &Weights,
        device: &Device,
        precision: Precision,
    ) -> Result<Self, LoadError> {
        if *device == Device::flex() {
            return Ok(Self::Cpu(CpuNetwork::load(config, weights, precision)?));
        }
        #[cfg(feature = "wgpu")]
        if let Some(gpu) =
            crate::backend::gpu_of(device).filter(|g| g.kernels() == GpuKernels::Hearth)
        {
            return GpuNetwork::load(config, weights, gpu, precision).map(Self::Gpu);
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
            #[cfg(feature = "gpu")]
            Self::Gpu(m) => m.config(),
            Self::Tensors(m) => m.config(),
        }
    }

    /// Where it runs, as a person would name it: "cpu (avx2)", "wgpu on llvmpipe (Vulkan)".
    pub fn device_name(&self) -> String {
        match self {
            Self::Cpu(m) => format!("cpu ({})", m.isa()),
            #[cfg(feature = "gpu")]
            Self::Gpu(m) => format!("wgpu on {}", m.adapter()),
            #[cfg(feature = "wgpu")]
            Self::Tensors(m) => match crate::backend::gpu_of(m.device()) {
                Some(gpu) => format!("wgpu-burn on {}", gpu.name),
                None => format!("{:?}", m.device()),
            },
            #[cfg(not(feature = "wgpu"))]
            Self::Tensors(m) => format!("{:?}", m.device()),
        }
    }

    /// What the weights are held in, by name (`f32`, `q4`, ...).
    pub fn precision(&self) -> String {
        match self {
            Self::Cpu(m) => m.precision().to_string(),
            #[cfg(feature = "gpu")]
            Self::Gpu(m) => m.precision().to_string(),
            Self::Tensors(m) => format!("{:?}", m.dtype()).to_lowercase(),
        }
    }

    /// The bytes the weights take on the CPU; `None` on a GPU.
    pub fn host_weight_bytes(&self) -> Option<usize> {
        match self {
            Self::Cpu(m) => Some(m.weight_bytes()),
            #[cfg(feature = "gpu")]
            Self::Gpu(_) => None,
            Self::Tensors(_) => None,
        }
    }

    /// An empty cache for a sequence of at most `capacity` positions.
    pub fn new_cache(&self, capacity: usize) -> KvCache {
        match self {
            Self::Cpu(m) => KvCache::Cpu(Box::new(m.new_cache(capacity))),
            #[cfg(feature = "gpu")]
            Self::Gpu(m) => KvCache::Gpu(Box::new(m.new_cache(capacity))),
            Self::Tensors(m) => KvCache::Tensors(m.new_cache(capacity)),
        }
    }

    /// Runs `ids` at the cache's next positions and returns the logits of the last one.
    /// Prefill passes the whole prompt, decode one token.
    pub fn forward(&self, ids: &[u32], cache: &mut KvCache) -> Logits {
        match (self, cache) {
            (Self::Cpu(m), KvCache::Cpu(c)) => Logits::Host(m.forward(ids, c)),
            #[cfg(feature = "gpu")]
            (Self::Gpu(m), KvCache::Gpu(c)) => Logits::Gpu(m.forward(ids, c)),
            (Self::Tensors(m), KvCache::Tensors(c)) => Logits::Device(m.forward(ids, c)),
            _ => panic!("a cache is used with the network that made it"),
        }
    }

    /// Runs every step (a sequence's next tokens: a prompt chunk, or one token of decode) and
    /// returns each step's last logits, in order. The CPU network runs them as one pass,
    /// reading each weight once for all; the GPU networks run them one after another.
    pub fn forward_batch(&self, steps: &mut [Step<'_>]) -> Vec<Logits> {
        match self {
            Self::Cpu(m) => {
                let mut cpu: Vec<CpuStep<'_>> = steps
                    .iter_mut()
                    .map(|step| match &mut *step.cache {
                        KvCache::Cpu(cache) => CpuStep {
                            ids: step.ids,
                            cache,
                        },
                        _ => panic!("a cache is used with the network that made it"),
                    })
                    .collect();
                m.forward_batch(&mut cpu)
                    .into_iter()
                    .map(Logits::Host)
                    .collect()
            }
            _ => steps
                .iter_mut()
                .map(|step| self.forward(step.ids, step.cache))
                .collect(),
        }
    }
}

/// One sequence's share of [`Network::forward_batch`]: `ids` at its cache's next positions,
/// prompt tokens or an answer's next token.
pub struct Step<'a> {
    pub ids: &'a [u32],
    pub cache: &'a mut KvCache,
}
