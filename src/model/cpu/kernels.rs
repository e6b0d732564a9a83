//! `x · Wᵀ` on the CPU for every weight format: the rows of W are shared among the cores and
//! each is read from memory once per call, whatever the number of input rows.
//!
//! Two paths. Floats: a row block of W is widened to f32 (borrowed as is when it is f32) and
//! multiplied with the inputs in register tiles. Quantized weights with few input rows
//! (decoding): the input is quantized to int8 blocks once and each block's product is summed
//! in integers, as llama.cpp does, which keeps decode at the memory's pace instead of the
//! widening's.
//!
//! The loops are plain Rust that the compiler vectorizes; natively they are compiled twice,
//! for the baseline CPU and for AVX2+FMA, and the second is taken when the CPU has it. wasm
//! builds get simd128 from the build's target features.

use super::convert::{BLOCK, bf16_to_f32, f16_to_f32, quantize_q8};
use super::dispatch::{Kernel, Scratch, dispatch, for_each_chunk, threads};
use super::matrix::{Data, Matrix};
use super::simd::Lanes;

/// What the input rows are, which decides how quantized weights multiply them. The choice
/// never depends on how many rows a pass holds, so a sequence's logits are the same alone or
/// batched, prefilled at once or in chunks, or after a cached prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    /// Prompt tokens: float tiles over widened weight rows (fast for many rows).
    Prompt,
    /// Each row one sequence's next token: quantized weights multiply an int8 copy of the
    /// rows in integers, row by row (llama.cpp's decode; at 8 batched sequences 1.75x the
    /// float tiles' aggregate, benches/serve.sh in q8).
    Decode,
}
/// Rows of W per register tile, and inputs per tile.
const TILE_ROWS: usize = 4;
const TILE_INPUTS: usize = 3;
/// f32 lanes the tiles accumulate in: one AVX2 register.
const LANES: usize = 8;

/// The input rows quantized for the integer path: reused between calls.
#[derive(Default, Clone)]
pub struct QuantizedInput {
    quants: Vec<i8>,
    scales: Vec<f32>,
    /// Each block's levels summed: what q4's offset of 8 subtracts.
    sums: Vec<f32>,
}

/// One product of a call: the matrix, and its output `[inputs, rows]`.
pub struct Job<'a>(pub &'a Matrix, pub &'a mut [f32]);

struct Input<'a> {
    x: &'a [f32],
    rows: usize,
    cols: usize,
    quantized: Option<Quantized<'a>>,
}

/// The input rows as int8 blocks: levels, scales and per-block level sums.
#[derive(Clone, Copy)]
struct Quantized<'a> {
    quants: &'a [i8],
    scales: &'a [f32],
    sums: &'a [f32],
}

/// Computes every job's `x · Wᵀ` for the `rows` rows of `x` (each `cols` long, the jobs'
/// common width) in one parallel pass.
pub fn matmul<const N: usize>(
    x: &[f32],
    (rows, inputs): (usize, Inputs),
    jobs: [Job<'_>; N],
    quantized: &mut QuantizedInput,
) {
    let cols = jobs[0].0.cols;
    debug_assert!(
        jobs.iter()
            .all(|j| j.0.cols == cols && j.1.len() == rows * j.0.rows)
    );
    debug_assert_eq!(x.len(), rows * cols);
    let integer = inputs == Inputs::Decode && jobs.iter().any(|j| is_quantized(j.0));
    if integer {
        quantized.quants.resize(x.len(), 0);
        quantized.scales.resize(x.len() / BLOCK, 0.0);
        quantize_q8(x, &mut quantized.quants, &mut quantized.scales);
        quantized.sums.clear();
        let sums = quantized.quants.as_chunks::<BLOCK>().0.iter();
        quantized
            .sums
            .extend(sums.map(|b| b.iter().map(|&q| q as i32).sum::<i32>() as f32));
    }
    let input = Input {
        x,
        rows,
        cols,
        quantized: integer.then_some(Quantized {
            quants: &quantized.quants,
            scales: &quantized.scales,
            sums: &quantized.sums,
        }),
    };
    if rows == 1 {
        // One input row: `[1, n]` is also the row-major-by-weight layout the kernels write.
        let mut parts = jobs.map(|Job(w, out)| (w, out));
        run(&input, &mut parts);
        return;
    }
    // Kernels write `[w.rows, inputs]` so that each core owns a contiguous range; transpose
    // afterwards (prefill only).
    let mut parts = jobs.map(|Job(w, out)| (w, vec![0f32; out.len()], out));
    let mut views = parts.each_mut().map(|(w, t, _)| (*w, &mut t[..]));
    run(&input, &mut views);
    for (w, transposed, out) in parts {
        for (r, row) in transposed.chunks_exact(rows).enumerate() {
            for (t, &v) in row.iter().enumerate() {
                out[t * w.rows + r] = v;
            }
        }
    }
}

fn is_quantized(w: &Matrix) -> bool {
    matches!(w.data, Data::Q8 { .. } | Data::Q4 { .. })
}

/// Shares the row blocks of every job among the cores.
fn run(input: &Input<'_>, parts: &mut [(&Matrix, &mut [f32])]) {
    let each = |(w, out): &mut (&Matrix, &mut [f32])| {
        let rows = w.rows.div_ceil(threads() * 4).next_multiple_of(TILE_ROWS);
        let chunk = rows.max(TILE_ROWS) * input.rows;
        for_each_chunk(out, chunk, |c, out| {
            let first = c * chunk / input.rows;
            dispatch(Rows {
                w,
                first,
                out,
                input,
            })
        });
    };
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        parts.par_iter_mut().for_each(each);
    }
    #[cfg(not(feature = "threads"))]
    parts.iter_mut().for_each(each);
}

/// Rows `first..` of `w` (as many as `out` holds) against every input: `out` is
/// `[rows, inputs]`.
struct Rows<'a> {
    w: &'a Matrix,
    first: usize,
    out: &'a mut [f32],
    input: &'a Input<'a>,
}

impl Kernel for Rows<'_> {
    #[inline(always)]
    fn run<L: Lanes>(self, scratch: &mut Scratch) {
        rows_generic::<L>(self.w, self.first, self.out, self.input, scratch)
    }
}

#[inline(always)]
fn rows_generic<L: Lanes>(
    w: &Matrix,
    first: usize,
    out: &mut [f32],
    input: &Input<'_>,
    scratch: &mut Scratch,
) {
    let k = input.cols;
    match (&w.data, input.quantized) {
        (Data::Q8 { .. } | Data::Q4 { .. }, Some(q)) => {
            integer_rows::<L>(w, first, out, input, q, &mut scratch.scales)
        }
        (Data::F32(e), _) => float_rows::<L, AsF32>(e.as_slice(), first, out, input),
        // One input: read the narrow format straight into lanes.
        (Data::BF16(e), _) if input.rows == 1 => {
            float_rows::<L, AsBf16>(e.as_slice(), first, out, input)
        }
        (Data::F16(e), _) if input.rows == 1 => {
            float_rows::<L, AsF16>(e.as_slice(), first, out, input)
        }
        _ => {
            // Several inputs: widen a few rows at a time, once, and multiply them as floats.
            let m = input.rows;
            let count = out.len() / m;
            scratch.wide.resize(TILE_ROWS * k, 0.0);
            for start in (0..count).step_by(TILE_ROWS) {
                let n = TILE_ROWS.min(count - start);
                for i in 0..n {
                    w.row_into(first + start + i, &mut scratch.wide[i * k..(i + 1) * k]);
                }
                let out = &mut out[start * m..(start + n) * m];
                float_rows::<L, AsF32>(&scratch.wide[..n * k], 0, out, input);
            }
        }
    }
}

/// How a stored float row is read into lanes.
pub(super) trait Format {
    type E: Copy;
    fn load<L: Lanes>(s: &[Self::E]) -> L::F;
    fn get(e: Self::E) -> f32;
}

pub(super) struct AsF32;
struct AsBf16;
struct AsF16;

impl Format for AsF32 {
    type E = f32;
    #[inline(always)]
    fn load<L: Lanes>(s: &[f32]) -> L::F {
        L::load(s)
    }
    #[inline(always)]
    fn get(e: f32) -> f32 {
        e
    }
}

impl Format for AsBf16 {
    type E = u16;
    #[inline(always)]
    fn load<L: Lanes>(s: &[u16]) -> L::F {
        L::load_bf16(s)
    }
    #[inline(always)]
    fn get(e: u16) -> f32 {
        bf16_to_f32(e)
    }
}

impl Format for AsF16 {
    type E = u16;
    #[inline(always)]
    fn load<L: Lanes>(s: &[u16]) -> L::F {
        L::load_f16(s)
    }
    #[inline(always)]
    fn get(e: u16) -> f32 {
        f16_to_f32(e)
    }
}

/// Rows `first..` of the row-major `data` against every input, in register tiles of
/// `TILE_ROWS × TILE_INPUTS` dot products.
#[inline(always)]
fn float_rows<L: Lanes, Fm: Format>(
    data: &[Fm::E],
    first: usize,
    out: &mut [f32],
    input: &Input<'_>,
) {
    let (k, m) = (input.cols, input.rows);
    let count = out.len() / m;
    let row = |r: usize| &data[(first + r) * k..(first + r + 1) * k];
    let x = |t: usize| &input.x[t * k..(t + 1) * k];
    if m == 1 {
        // Decoding: one row after another is one long sequential read, which the hardware
        // prefetchers follow best.
        let x = x(0);
        for (r, o) in out.iter_mut().enumerate() {
            *o = row_dot::<L, Fm>(row(r), x);
        }
        return;
    }
    let mut i = 0;
    while i + TILE_ROWS <= count {
        let w = [row(i), row(i + 1), row(i + 2), row(i + 3)];
        let mut t = 0;
        while t + TILE_INPUTS <= m {
            let xs = std::array::from_fn(|j| x(t + j));
            let sums = tile::<L, Fm, TILE_ROWS, TILE_INPUTS>(w, xs);
            for (r, s) in sums.iter().enumerate() {
                out[(i + r) * m + t..(i + r) * m + t + TILE_INPUTS].copy_from_slice(s);
            }
            t += TILE_INPUTS;
        }
        while t < m {
            let sums = tile::<L, Fm, TILE_ROWS, 1>(w, [x(t)]);
            for (r, s) in sums.iter().enumerate() {
                out[(i + r) * m + t] = s[0];
            }
            t += 1;
        }
        i += TILE_ROWS;
    }
    for r in i..count {
        for t in 0..m {
            out[r * m + t] = tile::<L, Fm, 1, 1>([row(r)], [x(t)])[0][0];
        }
    }
}

/// How far ahead of the loads the kernels ask for weights.
const PREFETCH_BYTES: usize = 1024;

/// One dot product in four independent accumulators, to keep several loads in flight.
#[inline(always)]
pub(super) fn row_dot<L: Lanes, Fm: Format>(w: &[Fm::E], x: &[f32]) -> f32 {
    const STEP: usize = 4 * LANES;
    let k = x.len();
    let whole = k / STEP * STEP;
    let mut acc = [L::zero(); 4];
    let mut at = 0;
    while at < whole {
        // Every 64-byte line of the step.
        for line in (0..STEP * size_of::<Fm::E>()).step_by(64) {
            prefetch(&w[at..], PREFETCH_BYTES + line);
        }
        for (j, a) in acc.iter_mut().enumerate() {
            let o = at + j * LANES;
            *a = L::fma(Fm::load::<L>(&w[o..]), L::load(&x[o..]), *a);
        }
        at += STEP;
    }
    let mut tail = 0.0;
    for c in whole..k {
        tail += Fm::get(w[c]) * x[c];
    }
    L::sum(acc[0]) + L::sum(acc[1]) + L::sum(acc[2]) + L::sum(acc[3]) + tail
}

/// `R × T` dot products of length `k` in registers of `L`.
#[inline(always)]
fn tile<L: Lanes, Fm: Format, const R: usize, const T: usize>(
    w: [&[Fm::E]; R],
    x: [&[f32]; T],
) -> [[f32; T]; R] {
    let k = x[0].len();
    let whole = k / LANES * LANES;
    let mut acc = [[L::zero(); T]; R];
    let mut xs = [L::zero(); T];
    let mut at = 0;
    while at < whole {
        for j in 0..T {
            xs[j] = L::load(&x[j][at..]);
        }
        for i in 0..R {
            let wv = Fm::load::<L>(&w[i][at..]);
            for j in 0..T {
                acc[i][j] = L::fma(wv, xs[j], acc[i][j]);
            }
        }
        at += LANES;
    }
    let mut sums = [[0f32; T]; R];
    for i in 0..R {
        for j in 0..T {
            let mut tail = 0.0;
            for c in whole..k {
                tail += Fm::get(w[i][c]) * x[j][c];
            }
            sums[i][j] = L::sum(acc[i][j]) + tail;
        }
    }
    sums
}

#[inline(always)]
fn integer_rows<L: Lanes>(
    w: &Matrix,
    first: usize,
    out: &mut [f32],
    input: &Input<'_>,
    q: Quantized<'_>,
    scales: &mut Vec<f32>,
) {
    let (k, m) = (input.cols, input.rows);
    let blocks = k / BLOCK;
    scales.resize(blocks, 0.0);
    for (i, out) in out.chunks_exact_mut(m).enumerate() {
        let r = first + i;
        let row_scales = match &w.data {
            Data::Q8 { scales, .. } | Data::Q4 { scales, .. } => &scales[r * blocks..][..blocks],
            _ => unreachable!("float rows take the float path"),
        };
        for (t, o) in out.iter_mut().enumerate() {
            // Each block's two scales, multiplied once here rather than in the block loop.
            let x_scales = &q.scales[t * blocks..(t + 1) * blocks];
            for ((s, &d), &dx) in scales.iter_mut().zip(row_scales).zip(x_scales) {
                *s = f16_to_f32(d) * dx;
            }
            let x = &q.quants[t * k..(t + 1) * k];
            *o = match &w.data {
                Data::Q8 { quants, .. } => {
                    integer_dot::<L, Q8Row>(&quants[r * k..(r + 1) * k], scales, x)
                }
                Data::Q4 { nibbles, .. } => {
                    // Σ (n - 8)·x = Σ n·x - 8·Σ x, per block.
                    let sums = &q.sums[t * blocks..(t + 1) * blocks];
                    let offset: f32 = scales.iter().zip(sums).map(|(s, x)| s * x).sum();
                    integer_dot::<L, Q4Row>(&nibbles[r * k / 2..(r + 1) * k / 2], scales, x)
                        - 8.0 * offset
                }
                _ => unreachable!(),
            };
        }
    }
}

/// How a quantized row's blocks are multiplied with an int8 block.
trait Blocks {
    type E;
    /// Stored elements per block.
    const PER_BLOCK: usize;
    fn dot<L: Lanes>(w: &[Self::E], x: &[i8]) -> L::F;
}

struct Q8Row;
struct Q4Row;

impl Blocks for Q8Row {
    type E = i8;
    const PER_BLOCK: usize = BLOCK;
    #[inline(always)]
    fn dot<L: Lanes>(w: &[i8], x: &[i8]) -> L::F {
        L::dot_i8(w, x)
    }
}

impl Blocks for Q4Row {
    type E = u8;
    const PER_BLOCK: usize = BLOCK / 2;
    #[inline(always)]
    fn dot<L: Lanes>(w: &[u8], x: &[i8]) -> L::F {
        L::dot_nibbles(w, x)
    }
}

/// Σ over blocks of `scale · Σ w·x`, each block's products summed in integers; `scales` holds
/// each block's weight scale times its input scale.
#[inline(always)]
fn integer_dot<L: Lanes, B: Blocks>(w: &[B::E], scales: &[f32], x: &[i8]) -> f32 {
    // Two accumulators, in variables: an array indexed by the block would live in memory.
    let (mut even, mut odd) = (L::zero(), L::zero());
    let blocks = scales.len();
    for b in (0..blocks - blocks % 2).step_by(2) {
        even = block_fma::<L, B>(w, scales, x, b, even);
        odd = block_fma::<L, B>(w, scales, x, b + 1, odd);
    }
    if blocks % 2 == 1 {
        even = block_fma::<L, B>(w, scales, x, blocks - 1, even);
    }
    L::sum(even) + L::sum(odd)
}

/// Block `b`'s products, scaled, added to `acc`. (A function, not a closure: closures do not
/// inherit the kernel's target features.)
#[inline(always)]
fn block_fma<L: Lanes, B: Blocks>(
    w: &[B::E],
    scales: &[f32],
    x: &[i8],
    b: usize,
    acc: L::F,
) -> L::F {
    let at = b * B::PER_BLOCK;
    if (at * size_of::<B::E>()).is_multiple_of(64) {
        prefetch(&w[at..], PREFETCH_BYTES);
    }
    let products = B::dot::<L>(&w[at..], &x[b * BLOCK..]);
    L::fma(products, L::splat(scales[b]), acc)
}

/// Asks for the cache line `bytes` past the start of `s`: the weights are read once, in
/// order, and the hardware prefetchers alone fall behind.
#[inline(always)]
fn prefetch<T>(s: &[T], bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(s.as_ptr().cast::<i8>().wrapping_add(bytes));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (s, bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Precision;
    use crate::model::safetensors::{Blob, FileDType, RawTensor};

    /// A deterministic pseudo-random matrix, as stored f32 bytes.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let h = (i as u32 ^ seed)
                    .wrapping_mul(2_654_435_761)
                    .rotate_left(13);
                (h % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn matrix(w: &[f32], [rows, cols]: [usize; 2], precision: Precision) -> (Matrix, Blob) {
        let bytes: Vec<u8> = bytemuck::cast_slice(w).to_vec();
        let blob: Blob = std::sync::Arc::new(bytes);
        let raw = RawTensor {
            dtype: FileDType::F32,
            shape: &[rows, cols],
            bytes: (*blob).as_ref(),
        };
        let m = Matrix::from_raw(&raw, &blob, [rows, cols], precision).unwrap();
        (m, blob)
    }

    /// `x · Wᵀ` in f64 over W as the matrix holds it (dequantized).
    fn reference(x: &[f32], w: &Matrix, m: usize) -> Vec<f32> {
        let mut row = vec![0f32; w.cols];
        let mut out = vec![0f32; m * w.rows];
        for r in 0..w.rows {
            w.row_into(r, &mut row);
            for t in 0..m {
                let x = &x[t * w.cols..(t + 1) * w.cols];
                let dot: f64 = x.iter().zip(&row).map(|(a, b)| *a as f64 * *b as f64).sum();
                out[t * w.rows + r] = dot as f32;
            }
        }
        out
    }

    fn worst(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// Every format, with 1 to 10 inputs as prompt rows and as decode rows (the integer path and the float tiles and
    /// their edges), row counts that leave partial tiles, and for floats a width that leaves a tail.
    #[test]
    fn every_format_matches_the_reference() {
        for precision in [
            Precision::F32,
            Precision::F16,
            Precision::BF16,
            Precision::Q8,
            Precision::Q4,
        ] {
            let quantized = precision.float_dtype().is_none();
            for cols in [64, 96, 40] {
                if quantized && cols % BLOCK != 0 {
                    continue;
                }
                let rows = 13;
                let w = values(rows * cols, 7);
                let (w, _blob) = matrix(&w, [rows, cols], precision);
                for (m, inputs) in (1..=10).flat_map(|m| [(m, Inputs::Prompt), (m, Inputs::Decode)])
                {
                    let x = values(m * cols, 11 + m as u32);
                    let mut out = vec![0f32; m * rows];
                    let mut q = QuantizedInput::default();
                    matmul(&x, (m, inputs), [Job(&w, &mut out)], &mut q);
                    let expected = reference(&x, &w, m);
                    // The integer path also rounds the input to int8: about 1/254 of each
                    // block's peak per product.
                    let tolerance = if quantized && inputs == Inputs::Decode {
                        0.1
                    } else {
                        1e-4
                    };
                    let err = worst(&out, &expected);
                    assert!(
                        err <= tolerance,
                        "{precision} {cols} cols, {m} inputs: off by {err}"
                    );
                }
            }
        }
    }

    /// The integer path equals the float path over the input as quantized, up to float
    /// rounding: the integer sums are exact.
    #[test]
    fn integer_path_is_exact_over_the_quantized_input() {
        let (rows, cols) = (9, 128);
        for precision in [Precision::Q8, Precision::Q4] {
            let (w, _blob) = matrix(&values(rows * cols, 3), [rows, cols], precision);
            let x = values(cols, 5);
            let mut q = QuantizedInput::default();
            let mut out = vec![0f32; rows];
            matmul(&x, (1, Inputs::Decode), [Job(&w, &mut out)], &mut q);
            let rounded: Vec<f32> = (0..cols)
                .map(|i| q.quants[i] as f32 * q.scales[i / BLOCK])
                .collect();
            let err = worst(&out, &reference(&rounded, &w, 1));
            assert!(err < 1e-4, "{precision}: {err}");
        }
    }

    /// The portable lanes (wasm without SIMD, CPUs without AVX2) give what the dispatched
    /// ones give.
    #[test]
    fn portable_lanes_agree_with_the_dispatched_ones() {
        let (rows, cols, m) = (8, 64, 3);
        for precision in [
            Precision::F32,
            Precision::F16,
            Precision::BF16,
            Precision::Q8,
            Precision::Q4,
        ] {
            let (w, _blob) = matrix(&values(rows * cols, 1), [rows, cols], precision);
            let x = values(m * cols, 2);
            let mut q = QuantizedInput::default();
            let mut dispatched = vec![0f32; m * rows];
            matmul(&x, (m, Inputs::Decode), [Job(&w, &mut dispatched)], &mut q);
            let input = Input {
                x: &x,
                rows: m,
                cols,
                quantized: Some(Quantized {
                    quants: &q.quants,
                    scales: &q.scales,
                    sums: &q.sums,
                }),
            };
            let mut portable = vec![0f32; m * rows];
            let kernel = Rows {
                w: &w,
                first: 0,
                out: &mut portable,
                input: &input,
            };
            kernel.run::<crate::model::cpu::simd::Scalar>(&mut Scratch::default());
            // `portable` is [rows, inputs]; `dispatched` [inputs, rows].
            for r in 0..rows {
                for t in 0..m {
                    let (a, b) = (portable[r * m + t], dispatched[t * rows + r]);
                    assert!(
                        (a - b).abs() < 1e-4,
                        "{precision} row {r} input {t}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
