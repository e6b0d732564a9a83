//! Rotary position embedding, rotate-half form as in Hugging Face's Qwen2 and Llama (not burn's
//! interleaved-pair `RotaryEncoding`).

use std::ops::Range;

use burn::tensor::{DType, Device, Tensor};

use super::config::{RopeParameters, RopeScaling};

/// The `head_dim / 2` rotation frequencies, `1 / theta^(2i / head_dim)` scaled as `rope`
/// says, in f32 as transformers forms them.
pub fn inv_freq(head_dim: usize, rope: &RopeParameters) -> Vec<f32> {
    let plain =
        (0..head_dim / 2).map(|i| 1.0 / (rope.theta as f32).powf((2 * i) as f32 / head_dim as f32));
    match rope.scaling {
        RopeScaling::Default => plain.collect(),
        RopeScaling::Linear { factor } => plain.map(|f| f / factor as f32).collect(),
        RopeScaling::Factors(ref factors) => plain.zip(factors).map(|(f, s)| f / s).collect(),
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } => {
            let (factor, low, high) = (
                factor as f32,
                low_freq_factor as f32,
                high_freq_factor as f32,
            );
            let context = original_max_position_embeddings as f32;
            let (low_wavelen, high_wavelen) = (context / low, context / high);
            plain
                .map(|f| {
                    let wavelen = 2.0 * std::f32::consts::PI / f;
                    if wavelen < high_wavelen {
                        f
                    } else if wavelen > low_wavelen {
                        f / factor
                    } else {
                        let smooth = (context / wavelen - low) / (high - low);
                        (1.0 - smooth) * f / factor + smooth * f
                    }
                })
                .collect()
        }
    }
}

/// `cos` and `sin` of every position's angles, `[positions, head_dim / 2]`. The angle is
/// the f32 product (as transformers rounds it); its cosine is taken in f64.
pub fn tables(inv_freq: &[f32], positions: Range<usize>, cos: &mut Vec<f32>, sin: &mut Vec<f32>) {
    cos.clear();
    sin.clear();
    extend_tables(inv_freq, positions, cos, sin);
}

/// [`tables`] appended to what `cos` and `sin` hold: a batch's sequences one after another.
pub fn extend_tables(
    inv_freq: &[f32],
    positions: Range<usize>,
    cos: &mut Vec<f32>,
    sin: &mut Vec<f32>,
) {
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
    pub fn new(inv_freq: &[f32], positions: usize, device: &Device, dtype: DType) -> Self {
        let head_dim = 2 * inv_freq.len();
        let (mut half_cos, mut half_sin) = (Vec::new(), Vec::new());
        tables(inv_freq, 0..positions, &mut half_cos, &mut half_sin);
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
}
