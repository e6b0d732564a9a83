//! Rotary position embedding, rotate-half form as in Hugging Face's Qwen2 (not burn's
//! interleaved-pair `RotaryEncoding`).

use std::ops::Range;

use burn::tensor::{DType, Device, Tensor};

/// `1 / theta^(2i / head_dim)` for each of the `head_dim / 2` rotated pairs, in f32 as
/// transformers forms them.
pub fn inv_freq(head_dim: usize, theta: f64) -> Vec<f32> {
    (0..head_dim / 2)
        .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32))
        .collect()
}

/// `cos` and `sin` of every position's angles, `[positions, head_dim / 2]`. The angle is
/// the f32 product (as transformers rounds it); its cosine is taken in f64.
pub fn tables(inv_freq: &[f32], positions: Range<usize>, cos: &mut Vec<f32>, sin: &mut Vec<f32>) {
    cos.clear();
    sin.clear();
    for p in positions {
        for &f in inv_freq {
            let angle = (p as f32 * f) as f64;
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
}

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
        let inv_freq = inv_freq(head_dim, theta);
        let (mut half_cos, mut half_sin) = (Vec::new(), Vec::new());
        tables(&inv_freq, 0..positions, &mut half_cos, &mut half_sin);
        // Each frequency twice, as transformers' `cat(freqs, freqs)`.
        let twice = |v: &[f32]| -> Vec<f32> {
            v.chunks_exact(head_dim / 2)
                .flat_map(|row| row.iter().chain(row))
                .copied()
                .collect()
        };
        let (cos, sin) = (twice(&half_cos), twice(&half_sin));
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
