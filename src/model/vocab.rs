//! The `[vocab, hidden]` matrices (the token embedding and lm_head), stored as blocks of rows
//! when the whole would not fit one GPU buffer: Qwen's 151936-row vocabulary is 545 MB in f32
//! at 896 wide, and some adapters bind at most 128 MiB at once.

use burn::tensor::{DType, Device, Int, Tensor};

use super::architecture::TensorId;
use super::{LoadError, Weights};

pub struct VocabMatrix {
    /// Consecutive row blocks, each `rows` long but the last.
    blocks: Vec<Tensor<2>>,
    rows: usize,
}

impl VocabMatrix {
    /// Loads `id` as `[vocab, hidden]`, in blocks of at most `max_bytes` each when given.
    pub fn load(
        weights: &Weights,
        id: TensorId,
        [vocab, hidden]: [usize; 2],
        (device, dtype): (&Device, DType),
        max_bytes: Option<u64>,
    ) -> Result<Self, LoadError> {
        let row_bytes = (hidden * dtype.size()).max(1) as u64;
        let rows = match max_bytes {
            Some(limit) if limit < row_bytes => {
                return Err(LoadError::TooLarge {
                    tensor: format!("{} (one row)", id.name()),
                    bytes: row_bytes,
                    limit,
                });
            }
            Some(limit) => (limit / row_bytes) as usize,
            None => vocab,
        };
        let blocks = weights.load_row_chunks(id, &[vocab, hidden], rows, device, dtype)?;
        Ok(Self { blocks, rows })
    }

    /// The rows of `ids`, in order: `[ids.len(), hidden]`.
    pub fn embed(&self, ids: &[u32], device: &Device) -> Tensor<2> {
        let index = |ids: &[usize]| {
            let ids: Vec<i32> = ids.iter().map(|&id| id as i32).collect();
            Tensor::<1, Int>::from_ints(ids.as_slice(), device)
        };
        if let [block] = self.blocks.as_slice() {
            let ids: Vec<usize> = ids.iter().map(|&id| id as usize).collect();
            return block.clone().select(0, index(&ids));
        }
        // Gather from each block the positions whose ids it holds, then put the rows back in
        // the positions' order.
        let mut order = Vec::with_capacity(ids.len());
        let mut gathered = Vec::new();
        for (b, block) in self.blocks.iter().enumerate() {
            let (positions, local): (Vec<usize>, Vec<usize>) = ids
                .iter()
                .enumerate()
                .filter(|(_, id)| **id as usize / self.rows == b)
                .map(|(p, id)| (p, *id as usize % self.rows))
                .unzip();
            if !positions.is_empty() {
                gathered.push(block.clone().select(0, index(&local)));
                order.extend(positions);
            }
        }
        let mut inverse = vec![0; order.len()];
        for (row, position) in order.into_iter().enumerate() {
            inverse[position] = row;
        }
        Tensor::cat(gathered, 0).select(0, index(&inverse))
    }

    /// `x · Wᵀ`: `[n, hidden]` to `[n, vocab]`. Runs once per token: a single block (every
    /// device without a small buffer limit) allocates nothing beyond the matmul.
    pub fn project(&self, x: Tensor<2>) -> Tensor<2> {
        if let [block] = self.blocks.as_slice() {
            return x.matmul(block.clone().transpose());
        }
        let parts = self
            .blocks
            .iter()
            .map(|block| x.clone().matmul(block.clone().transpose()))
            .collect();
        Tensor::cat(parts, 1)
    }
}
