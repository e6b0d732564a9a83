//! Per-sequence key/value cache, preallocated to the sequence's capacity so decoding writes in
//! place instead of growing tensors every token.

use burn::tensor::{DType, Device, Tensor};

/// The state of one sequence: its keys and values per layer and how many positions are filled.
/// The model itself holds no per-sequence state, so one model serves many sequences.
#[derive(Clone)]
pub struct TensorCache {
    layers: Vec<(Tensor<4>, Tensor<4>)>,
    len: usize,
    capacity: usize,
}

impl TensorCache {
    /// Forgets the positions from `len` on; the next pass writes there.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub fn new(
        layers: usize,
        kv_heads: usize,
        head_dim: usize,
        capacity: usize,
        device: &Device,
        dtype: DType,
    ) -> Self {
        let empty = || Tensor::<4>::zeros([1, kv_heads, capacity, head_dim], (device, dtype));
        Self {
            layers: (0..layers).map(|_| (empty(), empty())).collect(),
            len: 0,
            capacity,
        }
    }

    /// Positions already filled: the position of the next token.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes `k, v: [1, kv_heads, new, head_dim]` for layer `layer` at the current position and
    /// returns the keys and values of every position so far.
    pub fn append(&mut self, layer: usize, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let [_, heads, new, dim] = k.dims();
        let (start, end) = (self.len, self.len + new);
        let (ck, cv) = &mut self.layers[layer];
        let range = [0..1, 0..heads, start..end, 0..dim];
        ck.inplace(|c| c.slice_assign(range.clone(), k));
        cv.inplace(|c| c.slice_assign(range, v));
        let filled = [0..1, 0..heads, 0..end, 0..dim];
        (ck.clone().slice(filled.clone()), cv.clone().slice(filled))
    }

    /// Marks `new` more positions as filled, once every layer has appended them.
    pub fn advance(&mut self, new: usize) {
        self.len += new;
    }
}
