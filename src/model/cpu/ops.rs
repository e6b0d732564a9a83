//! The network's elementwise steps on host rows, in f32, in place where they can be.

/// `1 / sqrt(mean(x²) + eps)`: RMSNorm's scale of one row.
fn inv_rms(x: &[f32], eps: f32) -> f32 {
    let mean = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    1.0 / (mean + eps).sqrt()
}

/// `x / sqrt(mean(x²) + eps) · weight` for each row of `x` into `out`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let h = weight.len();
    for (x, out) in x.chunks_exact(h).zip(out.chunks_exact_mut(h)) {
        let scale = inv_rms(x, eps);
        for ((o, v), w) in out.iter_mut().zip(x).zip(weight) {
            *o = v * scale * w;
        }
    }
}

/// [`rms_norm`] of each `weight.len()`-wide piece of `x`, in place (Qwen3's per-head q/k norm).
pub fn rms_norm_in_place(x: &mut [f32], weight: &[f32], eps: f32) {
    for x in x.chunks_exact_mut(weight.len()) {
        let scale = inv_rms(x, eps);
        for (v, w) in x.iter_mut().zip(weight) {
            *v = *v * scale * w;
        }
    }
}

/// Adds `bias` to each row of `x`.
pub fn add_bias(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

pub fn add(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// `silu(gate) · up` into `gate`.
pub fn swiglu(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}

/// Rotate-half RoPE on rows `[tokens, heads · d]`, token `i` at the angles in row `i` of
/// `cos`/`sin` (`[tokens, d / 2]`).
pub fn rope(x: &mut [f32], d: usize, cos: &[f32], sin: &[f32]) {
    let half = d / 2;
    let width = x.len() / (cos.len() / half);
    for ((row, cos), sin) in x
        .chunks_exact_mut(width)
        .zip(cos.chunks_exact(half))
        .zip(sin.chunks_exact(half))
    {
        for head in row.chunks_exact_mut(d) {
            let (a, b) = head.split_at_mut(half);
            for j in 0..half {
                let (x1, x2) = (a[j], b[j]);
                a[j] = x1 * cos[j] - x2 * sin[j];
                b[j] = x2 * cos[j] + x1 * sin[j];
            }
        }
    }
}
