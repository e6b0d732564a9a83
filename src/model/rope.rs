//! Rotary position embedding, rotate-half form as in Hugging Face's Qwen2 (not burn's
//! interleaved-pair `RotaryEncoding`).

use burn::tensor::{DType, Device, Tensor};

pub struct Rope {
    /// `[positions, head_dim]`: each frequency twice, as `cat(freqs, freqs)`.
    cos: Tensor<2>,
    sin: Tensor<2>,
}

impl Rope {
    /// Tables for `positions` positions. The angles are formed in f32 as transformers does,
    /// so that long positions round the same way.
    pub fn new(
        head_dim: usize,
        theta: f64,
        positions: usize,
        device: &Device,
        dtype: DType,
    ) -> Self {
        let half = head_dim / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32))
            .collect();
        let mut cos = Vec::with_capacity(positions * head_dim);
        let mut sin = Vec::with_capacity(positions * head_dim);
        for p in 0..positions {
            for _ in 0..2 {
                for &f in &inv_freq {
                    let angle = (p as f32 * f) as f64;
                    cos.push(angle.cos() as f32);
                    sin.push(angle.sin() as f32);
                }
            }
        }
        let table = |v: Vec<f32>| {
            Tensor::<1>::from_floats(v.as_slice(), device)
                .reshape([positions, head_dim])
                .cast(dtype)
        };
        Self {
            cos: table(cos),
            sin: table(sin),
        }
    }

    /// Rotates `x: [1, heads, len, head_dim]` holding positions `start..start + len`.
    pub fn apply(&self, x: Tensor<4>, start: usize) -> Tensor<4> {
        let [_, _, len, dim] = x.dims();
        let cos = self
            .cos
            .clone()
            .slice(start..start + len)
            .reshape([1, 1, len, dim]);
        let sin = self
            .sin
            .clone()
            .slice(start..start + len)
            .reshape([1, 1, len, dim]);
        let x1 = x.clone().narrow(3, 0, dim / 2);
        let x2 = x.clone().narrow(3, dim / 2, dim / 2);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        x * cos + rotated * sin
    }

    pub fn positions(&self) -> usize {
        self.cos.dims()[0]
    }
}
