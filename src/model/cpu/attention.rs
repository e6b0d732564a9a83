//! Causal attention over a sequence's cached keys and values: each query row on a core, its
//! dot products and weighted sums in the kernels' lanes.

use super::dispatch::{Kernel, Scratch, dispatch, for_each_chunk};
use super::kernels::{AsF32, row_dot};
use super::simd::Lanes;

#[derive(Clone, Copy)]
pub struct Shape {
    pub heads: usize,
    pub kv_heads: usize,
    /// Positions each cache row holds.
    pub capacity: usize,
    pub head_dim: usize,
}

/// Query rows `q` (`[n, heads · head_dim]`) at positions `start..start + n`, against `keys`
/// and `values` (`[kv_heads, capacity, head_dim]`, filled up to `start + n`), into `out`.
pub fn attend(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    shape: Shape,
    start: usize,
    out: &mut [f32],
) {
    let width = shape.heads * shape.head_dim;
    for_each_chunk(out, width, |i, out| {
        let q = &q[i * width..(i + 1) * width];
        dispatch(Row {
            q,
            keys,
            values,
            shape,
            len: start + i + 1,
            out,
        })
    });
}

/// One query row over the first `len` positions.
struct Row<'a> {
    q: &'a [f32],
    keys: &'a [f32],
    values: &'a [f32],
    shape: Shape,
    len: usize,
    out: &'a mut [f32],
}

impl Kernel for Row<'_> {
    #[inline(always)]
    fn run<L: Lanes>(self, scratch: &mut Scratch) {
        let Shape {
            heads,
            kv_heads,
            capacity,
            head_dim: d,
        } = self.shape;
        let group = heads / kv_heads;
        let scale = 1.0 / (d as f32).sqrt();
        let scores = &mut scratch.wide;
        scores.resize(self.len, 0.0);
        for head in 0..heads {
            let q = &self.q[head * d..(head + 1) * d];
            let base = head / group * capacity * d;
            let mut peak = f32::NEG_INFINITY;
            let keys = self.keys[base..base + self.len * d].chunks_exact(d);
            for (s, k) in scores.iter_mut().zip(keys) {
                *s = row_dot::<L, AsF32>(k, q) * scale;
                peak = peak.max(*s);
            }
            let mut total = 0.0;
            for s in scores.iter_mut() {
                *s = (*s - peak).exp();
                total += *s;
            }
            let out = &mut self.out[head * d..(head + 1) * d];
            out.fill(0.0);
            let values = self.values[base..base + self.len * d].chunks_exact(d);
            for (s, v) in scores.iter().zip(values) {
                axpy::<L>(s / total, v, out);
            }
        }
    }
}

/// `out += a · v`.
#[inline(always)]
fn axpy<L: Lanes>(a: f32, v: &[f32], out: &mut [f32]) {
    let whole = v.len() / 8 * 8;
    let a8 = L::splat(a);
    let mut at = 0;
    while at < whole {
        let sum = L::fma(a8, L::load(&v[at..]), L::load(&out[at..]));
        L::store(sum, &mut out[at..]);
        at += 8;
    }
    for i in whole..v.len() {
        out[i] += a * v[i];
    }
}
