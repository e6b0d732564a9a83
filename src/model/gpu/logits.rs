//! The last position's logits where a GPU pass left them: the greedy id is already copied
//! out (4 bytes to read), the whole row is copied only when a sampler needs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::context::Gpu;
use super::pass::GpuCache;
use crate::model::DeviceError;

#[derive(Clone)]
pub struct GpuLogits {
    gpu: Arc<Gpu>,
    logits: wgpu::Buffer,
    id_readback: wgpu::Buffer,
    row_readback: wgpu::Buffer,
    /// The sequence's pass count, and its value when these logits were made.
    passes: Arc<AtomicU64>,
    pass: u64,
}

impl GpuLogits {
    pub(super) fn new(cache: &GpuCache) -> Self {
        let b = cache.buffers();
        Self {
            gpu: cache.gpu().clone(),
            logits: b.logits.clone(),
            id_readback: b.id_readback.clone(),
            row_readback: b.row_readback.clone(),
            pass: cache.passes.load(Ordering::Acquire),
            passes: cache.passes.clone(),
        }
    }

    /// The sequence's buffers hold another position's logits once it ran again.
    fn current(&self) -> Result<(), DeviceError> {
        match self.passes.load(Ordering::Acquire) == self.pass {
            true => Ok(()),
            false => Err(DeviceError::Stale),
        }
    }

    /// The argmax the pass computed.
    pub async fn argmax(self) -> Result<u32, DeviceError> {
        self.current()?;
        self.gpu
            .read(&self.id_readback, 4, |bytes| {
                u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"))
            })
            .await
    }

    /// The whole row.
    pub async fn into_vec(self) -> Result<Vec<f32>, DeviceError> {
        self.current()?;
        let bytes = self.logits.size();
        let mut encoder = self.gpu.encoder();
        encoder.copy_buffer_to_buffer(&self.logits, 0, &self.row_readback, 0, bytes);
        self.gpu.submit(encoder);
        self.gpu
            .read(&self.row_readback, bytes, bytemuck::pod_collect_to_vec)
            .await
    }
}
