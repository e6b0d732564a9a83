//! `x · Wᵀ` on the CPU for every weight format: the rows of W are shared among the cores and
//! each is read from memory once per call, whatever the number of input rows.
//!
//! Each format multiplies in its own width, as llama.cpp does:
//! - f32 and f16 rows multiply the f32 input in register tiles (f16 widened in the loads for
//!   one input, or a few rows at a time, once, for several);
//! - bf16 rows multiply a bf16 copy of the input, pairs summed in f32 (`vdpbf16ps` on
//!   AVX-512), never widened in memory;
//! - q8 and q4 rows multiply an int8 copy of the input, quantized once per call in blocks of
//!   32, over rows in the grouped layout of `groups`: each block's products are summed in
//!   integers (VNNI's `vpdpbusd`, or `pmaddubsw`) and scaled once per group, in tiles of
//!   rows × inputs.
//!
//! What a product gives for one input row depends only on that row, never on the others in
//! the call nor on how the rows fall into tiles: a sequence's logits are the same alone or
//! batched, prefilled at once or in chunks (to the bit for q8/q4; for the float formats up to
//! rounding, since a single input row sums in another order than a tile).
//!
//! Kernels are written once over [`Lanes`] and compiled for each instruction set
//! (`dispatch`).

use super::convert::{BLOCK, bf16_to_f32, f16_to_f32, f32_to_bf16};
use super::dispatch::{Isa, Kernel, Scratch, for_each_chunk, isa, run_on, threads};
use super::groups::{self, Int8Rows, STEP};
use super::matrix::{Data, Matrix};
use super::simd::Lanes;

/// Rows of W per register tile, and inputs per tile.
const TILE_ROWS: usize = 4;
const TILE_INPUTS: usize = 3;

/// Inputs from which quantized rows are taken `TILE_ROWS` at a time. Decoding one or two
/// sequences is bound by reading the weights, and one row after another streams best (4-row
/// tiles cost a third of q8 decode's speed); from three the tile's sharing of each input's
/// loads wins (8 sequences: 13% more tokens/s in benches/serve.sh).
const TILED_FROM: usize = 3;

/// The input rows in the forms the formats multiply: reused between calls.
#[derive(Default, Clone)]
pub struct PreparedInput {
    int8: Int8Rows,
    bf16: Vec<u16>,
}

/// One product of a call: the matrix, and its output `[inputs, rows]`.
pub struct Job<'a>(pub &'a Matrix, pub &'a mut [f32]);

pub(super) struct Input<'a> {
    x: &'a [f32],
    rows: usize,
    cols: usize,
    /// int8 groups (when a job is quantized).
    int8: &'a Int8Rows,
    /// bfloat16 (when a job is bf16).
    bf16: &'a [u16],
    isa: Isa,
}

/// Computes every job's `x · Wᵀ` for the `rows` rows of `x` (each `cols` long, the jobs'
/// common width) in one parallel pass.
pub fn matmul<const N: usize>(
    x: &[f32],
    rows: usize,
    jobs: [Job<'_>; N],
    prepared: &mut PreparedInput,
) {
    // The network checked the choice when it loaded.
    matmul_on(isa().unwrap_or(Isa::Portable), x, rows, jobs, prepared)
}

fn matmul_on<const N: usize>(
    isa: Isa,
    x: &[f32],
    rows: usize,
    jobs: [Job<'_>; N],
    prepared: &mut PreparedInput,
) {
    let cols = jobs[0].0.cols;
    debug_assert!(
        jobs.iter()
            .all(|j| j.0.cols == cols && j.1.len() == rows * j.0.rows)
    );
    debug_assert_eq!(x.len(), rows * cols);
    if jobs.iter().any(|j| j.0.is_quantized()) {
        prepared.int8.quantize(x, rows, cols);
    }
    if jobs.iter().any(|j| matches!(j.0.data, Data::BF16(_))) {
        prepared.bf16.clear();
        prepared.bf16.extend(x.iter().map(|&v| f32_to_bf16(v)));
    }
    let input = Input {
        x,
        rows,
        cols,
        int8: &prepared.int8,
        bf16: &prepared.bf16,
        isa,
    };
    if rows == 1 {
        // One input row: `[1, n]` is also the row-major-by-weight layout the kernels write.
        let mut parts = jobs.map(|Job(w, out)| (w, out));
        run(&input, &mut parts);
        return;
    }
    // Kernels write `[w.rows, inputs]` so that each core owns a contiguous range; transpose
    // afterwards.
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

/// Shares the row blocks of every job among the cores.
fn run(input: &Input<'_>, parts: &mut [(&Matrix, &mut [f32])]) {
    let each = |(w, out): &mut (&Matrix, &mut [f32])| {
        let rows = w.rows.div_ceil(threads() * 4).next_multiple_of(TILE_ROWS);
        let chunk = rows.max(TILE_ROWS) * input.rows;
        for_each_chunk(out, chunk, |c, out| {
            let first = c * chunk / input.rows;
            run_on(
                input.isa,
                Rows {
                    w,
                    first,
                    out,
                    input,
                },
            )
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
    match &w.data {
        Data::Q8Groups { quants, scales } => match groups::group_blocks(k) {
            4 => integer_rows::<L, Q8Groups, 4>(quants, scales, first, out, input),
            2 => integer_rows::<L, Q8Groups, 2>(quants, scales, first, out, input),
            _ => integer_rows::<L, Q8Groups, 1>(quants, scales, first, out, input),
        },
        Data::Q4Groups { nibbles, scales } => match groups::group_blocks(k) {
            4 => integer_rows::<L, Q4Groups, 4>(nibbles, scales, first, out, input),
            2 => integer_rows::<L, Q4Groups, 2>(nibbles, scales, first, out, input),
            _ => integer_rows::<L, Q4Groups, 1>(nibbles, scales, first, out, input),
        },
        Data::Q8 { .. } | Data::Q4 { .. } => {
            unreachable!("the CPU network holds quantized rows in groups (Matrix::for_cpu)")
        }
        Data::F32(e) => float_rows::<L, AsF32>(e.as_slice(), first, out, input),
        Data::BF16(e) => float_rows::<L, AsBf16>(e.as_slice(), first, out, input),
        // One input: read the halves straight into lanes.
        Data::F16(e) if input.rows == 1 => float_rows::<L, AsF16>(e.as_slice(), first, out, input),
        Data::F16(_) => {
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

/// How a stored float row and the input it multiplies are read into lanes.
pub(super) trait Format {
    /// A weight; an input value.
    type E: Copy;
    type X: Copy;
    /// Values one step of lanes takes.
    const STEP: usize;
    type V<L: Lanes>: Copy;
    fn load_w<L: Lanes>(w: &[Self::E]) -> Self::V<L>;
    fn load_x<L: Lanes>(x: &[Self::X]) -> Self::V<L>;
    /// `acc` plus the step's products.
    fn fma<L: Lanes>(w: Self::V<L>, x: Self::V<L>, acc: L::F) -> L::F;
    /// The input rows in this format's input type.
    fn input<'a>(input: &Input<'a>) -> &'a [Self::X];
    fn w(e: Self::E) -> f32;
    fn x(x: Self::X) -> f32;
}

pub(super) struct AsF32;
struct AsBf16;
struct AsF16;

/// A stored float row that multiplies the f32 input, widened as it is loaded.
pub(super) trait WideRow {
    type E: Copy;
    fn load<L: Lanes>(w: &[Self::E]) -> L::F;
    fn get(e: Self::E) -> f32;
}

impl WideRow for AsF32 {
    type E = f32;
    #[inline(always)]
    fn load<L: Lanes>(w: &[f32]) -> L::F {
        L::load(w)
    }
    #[inline(always)]
    fn get(e: f32) -> f32 {
        e
    }
}

impl WideRow for AsF16 {
    type E = u16;
    #[inline(always)]
    fn load<L: Lanes>(w: &[u16]) -> L::F {
        L::load_f16(w)
    }
    #[inline(always)]
    fn get(e: u16) -> f32 {
        f16_to_f32(e)
    }
}

impl<R: WideRow> Format for R {
    type E = R::E;
    type X = f32;
    const STEP: usize = 8;
    type V<L: Lanes> = L::F;
    #[inline(always)]
    fn load_w<L: Lanes>(w: &[R::E]) -> L::F {
        R::load::<L>(w)
    }
    #[inline(always)]
    fn load_x<L: Lanes>(x: &[f32]) -> L::F {
        L::load(x)
    }
    #[inline(always)]
    fn fma<L: Lanes>(w: L::F, x: L::F, acc: L::F) -> L::F {
        L::fma(w, x, acc)
    }
    fn input<'a>(input: &Input<'a>) -> &'a [f32] {
        input.x
    }
    #[inline(always)]
    fn w(e: R::E) -> f32 {
        R::get(e)
    }
    #[inline(always)]
    fn x(x: f32) -> f32 {
        x
    }
}

impl Format for AsBf16 {
    type E = u16;
    type X = u16;
    const STEP: usize = 16;
    type V<L: Lanes> = L::H;
    #[inline(always)]
    fn load_w<L: Lanes>(w: &[u16]) -> L::H {
        L::load_bf16(w)
    }
    #[inline(always)]
    fn load_x<L: Lanes>(x: &[u16]) -> L::H {
        L::load_bf16(x)
    }
    #[inline(always)]
    fn fma<L: Lanes>(w: L::H, x: L::H, acc: L::F) -> L::F {
        L::dot_bf16(w, x, acc)
    }
    fn input<'a>(input: &Input<'a>) -> &'a [u16] {
        input.bf16
    }
    #[inline(always)]
    fn w(e: u16) -> f32 {
        bf16_to_f32(e)
    }
    #[inline(always)]
    fn x(x: u16) -> f32 {
        bf16_to_f32(x)
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
    let xs = Fm::input(input);
    let x = |t: usize| &xs[t * k..(t + 1) * k];
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
pub(super) fn row_dot<L: Lanes, Fm: Format>(w: &[Fm::E], x: &[Fm::X]) -> f32 {
    let step = 4 * Fm::STEP;
    let k = x.len();
    let whole = k / step * step;
    let mut acc = [L::zero(); 4];
    let mut at = 0;
    while at < whole {
        // Every 64-byte line of the step.
        for line in (0..step * size_of::<Fm::E>()).step_by(64) {
            prefetch(&w[at..], PREFETCH_BYTES + line);
        }
        for (j, a) in acc.iter_mut().enumerate() {
            let o = at + j * Fm::STEP;
            *a = Fm::fma::<L>(Fm::load_w::<L>(&w[o..]), Fm::load_x::<L>(&x[o..]), *a);
        }
        at += step;
    }
    let mut tail = 0.0;
    for c in whole..k {
        tail += Fm::w(w[c]) * Fm::x(x[c]);
    }
    L::sum(acc[0]) + L::sum(acc[1]) + L::sum(acc[2]) + L::sum(acc[3]) + tail
}

/// `R × T` dot products of length `k` in registers of `L`.
#[inline(always)]
fn tile<L: Lanes, Fm: Format, const R: usize, const T: usize>(
    w: [&[Fm::E]; R],
    x: [&[Fm::X]; T],
) -> [[f32; T]; R] {
    let k = x[0].len();
    let whole = k / Fm::STEP * Fm::STEP;
    let mut acc = [[L::zero(); T]; R];
    let mut at = 0;
    while at < whole {
        let mut xs = [Fm::load_x::<L>(&x[0][at..]); T];
        for j in 1..T {
            xs[j] = Fm::load_x::<L>(&x[j][at..]);
        }
        for i in 0..R {
            let wv = Fm::load_w::<L>(&w[i][at..]);
            for j in 0..T {
                acc[i][j] = Fm::fma::<L>(wv, xs[j], acc[i][j]);
            }
        }
        at += Fm::STEP;
    }
    let mut sums = [[0f32; T]; R];
    for i in 0..R {
        for j in 0..T {
            let mut tail = 0.0;
            for c in whole..k {
                tail += Fm::w(w[i][c]) * Fm::x(x[j][c]);
            }
            sums[i][j] = L::sum(acc[i][j]) + tail;
        }
    }
    sums
}

/// How a quantized row's groups are read and multiplied with an int8 group.
trait Groups {
    type E: Copy;
    /// Stored elements per block.
    const PER_BLOCK: usize;
    /// The `G` loads of a group of `G` blocks.
    fn weights<L: Lanes, const G: usize>(w: &[Self::E]) -> [L::W; G];
    fn input<L: Lanes>(x: &[i8]) -> L::X;
    /// Where a group's products start (`at` its index among the row's groups).
    fn base<L: Lanes>(x: &Int8Row<'_>, at: usize) -> L::I;
    fn dot<L: Lanes>(acc: L::I, w: L::W, x: L::X) -> L::I;
}

struct Q8Groups;
struct Q4Groups;

impl Groups for Q8Groups {
    type E = i8;
    const PER_BLOCK: usize = BLOCK;
    #[inline(always)]
    fn weights<L: Lanes, const G: usize>(w: &[i8]) -> [L::W; G] {
        let mut loads = [L::q8_weights(w); G];
        for (s, load) in loads.iter_mut().enumerate().skip(1) {
            *load = L::q8_weights(&w[s * STEP..]);
        }
        loads
    }
    #[inline(always)]
    fn input<L: Lanes>(x: &[i8]) -> L::X {
        L::q8_input(x)
    }
    #[inline(always)]
    fn base<L: Lanes>(x: &Int8Row<'_>, at: usize) -> L::I {
        L::q8_base(&x.q8_bases[at * 8..])
    }
    #[inline(always)]
    fn dot<L: Lanes>(acc: L::I, w: L::W, x: L::X) -> L::I {
        L::dot_q8(acc, w, x)
    }
}

impl Groups for Q4Groups {
    type E = u8;
    const PER_BLOCK: usize = BLOCK / 2;
    #[inline(always)]
    fn weights<L: Lanes, const G: usize>(w: &[u8]) -> [L::W; G] {
        if G == 1 {
            return [L::q4_weights_half(w); G];
        }
        let (low, high) = L::q4_weights(w);
        let mut loads = [low; G];
        loads[1] = high;
        for c in 1..G / 2 {
            (loads[2 * c], loads[2 * c + 1]) = L::q4_weights(&w[c * STEP..]);
        }
        loads
    }
    #[inline(always)]
    fn input<L: Lanes>(x: &[i8]) -> L::X {
        L::q4_input(x)
    }
    #[inline(always)]
    fn base<L: Lanes>(x: &Int8Row<'_>, at: usize) -> L::I {
        L::q4_base(&x.q4_bases[at * 8..])
    }
    #[inline(always)]
    fn dot<L: Lanes>(acc: L::I, w: L::W, x: L::X) -> L::I {
        L::dot_q4(acc, w, x)
    }
}

/// One input row's int8 groups, their block scales and their products' bases (8 a group).
#[derive(Clone, Copy)]
struct Int8Row<'a> {
    quants: &'a [i8],
    scales: &'a [f32],
    q8_bases: &'a [i32],
    q4_bases: &'a [i32],
}

/// Rows `first..` of a grouped quantized matrix (`data` its groups of `G` blocks, `w_scales`
/// their f16 scales) against every input's int8 groups, in tiles of `TILE_ROWS × TILE_INPUTS`.
#[inline(always)]
fn integer_rows<L: Lanes, Gr: Groups, const G: usize>(
    data: &[Gr::E],
    w_scales: &[u16],
    first: usize,
    out: &mut [f32],
    input: &Input<'_>,
) {
    let (k, m) = (input.cols, input.rows);
    let blocks = k / BLOCK;
    let width = blocks * Gr::PER_BLOCK;
    let count = out.len() / m;
    let x = |t: usize| Int8Row {
        quants: &input.int8.quants[t * k..(t + 1) * k],
        scales: &input.int8.scales[t * blocks..(t + 1) * blocks],
        q8_bases: &input.int8.q8_bases[t * blocks / G * 8..(t + 1) * blocks / G * 8],
        q4_bases: &input.int8.q4_bases[t * blocks / G * 8..(t + 1) * blocks / G * 8],
    };
    let w = |r: usize| &data[(first + r) * width..][..width];
    let ws = |r: usize| &w_scales[(first + r) * blocks..][..blocks];
    let mut i = 0;
    while i < count {
        let out = &mut out[i * m..];
        if m >= TILED_FROM && i + TILE_ROWS <= count {
            let rows = [w(i), w(i + 1), w(i + 2), w(i + 3)];
            let scales = [ws(i), ws(i + 1), ws(i + 2), ws(i + 3)];
            integer_tiles::<L, Gr, G, TILE_ROWS>(rows, scales, &x, &mut out[..TILE_ROWS * m]);
            i += TILE_ROWS;
        } else {
            integer_tiles::<L, Gr, G, 1>([w(i)], [ws(i)], &x, &mut out[..m]);
            i += 1;
        }
    }
}

/// `R` rows against every input, `TILE_INPUTS` at a time; `out` is `[R, inputs]`.
#[inline(always)]
fn integer_tiles<'a, L: Lanes, Gr: Groups, const G: usize, const R: usize>(
    w: [&[Gr::E]; R],
    ws: [&[u16]; R],
    x: &impl Fn(usize) -> Int8Row<'a>,
    out: &mut [f32],
) {
    let m = out.len() / R;
    let mut t = 0;
    while t + TILE_INPUTS <= m {
        let xs = std::array::from_fn(|j| x(t + j));
        let sums = integer_tile::<L, Gr, G, R, TILE_INPUTS>(w, ws, xs, t == 0);
        for (r, s) in sums.iter().enumerate() {
            out[r * m + t..r * m + t + TILE_INPUTS].copy_from_slice(s);
        }
        t += TILE_INPUTS;
    }
    while t < m {
        let sums = integer_tile::<L, Gr, G, R, 1>(w, ws, [x(t)], t == 0);
        for (r, s) in sums.iter().enumerate() {
            out[r * m + t] = s[0];
        }
        t += 1;
    }
}

/// `R × T` products of quantized rows with int8 inputs: per group, each lane's integer sums
/// over the group's `G` loads (one block's products), scaled by the row's and the input's
/// block scales. Each pair sums its groups in order, in any tile.
#[inline(always)]
fn integer_tile<L: Lanes, Gr: Groups, const G: usize, const R: usize, const T: usize>(
    w: [&[Gr::E]; R],
    ws: [&[u16]; R],
    x: [Int8Row<'_>; T],
    first_inputs: bool,
) -> [[f32; T]; R] {
    // Rows of a tile lie one after another: ask for each row's place in the next tile, once
    // (the tile's later inputs find the rows in the cache).
    let ahead = (R * size_of_val(w[0])).max(PREFETCH_BYTES);
    let group_bytes = G * Gr::PER_BLOCK * size_of::<Gr::E>();
    let mut acc = [[L::zero(); T]; R];
    for g in 0..x[0].scales.len() / G {
        let (at, blocks) = (g * G * BLOCK, g * G..(g + 1) * G);
        let mut base = [Gr::base::<L>(&x[0], g); T];
        let mut xs = [L::group_scales_f32::<G>(&x[0].scales[blocks.clone()]); T];
        for j in 1..T {
            base[j] = Gr::base::<L>(&x[j], g);
            xs[j] = L::group_scales_f32::<G>(&x[j].scales[blocks.clone()]);
        }
        let w_at = g * G * Gr::PER_BLOCK;
        for i in 0..R {
            if first_inputs {
                for line in (0..group_bytes).step_by(64) {
                    prefetch(&w[i][w_at..], ahead + line);
                }
            }
            let wv = Gr::weights::<L, G>(&w[i][w_at..]);
            let scales = L::group_scales::<G>(&ws[i][blocks.clone()]);
            for j in 0..T {
                // The input's loads are read where they are used (an operand of the product)
                // rather than held: the tile's sums take the registers.
                let mut d = base[j];
                for (s, &wv) in wv.iter().enumerate() {
                    d = Gr::dot::<L>(d, wv, Gr::input::<L>(&x[j].quants[at + s * STEP..]));
                }
                acc[i][j] = L::fma(L::to_f32(d), L::mul(scales, xs[j]), acc[i][j]);
            }
        }
    }
    let mut sums = [[0f32; T]; R];
    for i in 0..R {
        for j in 0..T {
            sums[i][j] = L::sum(acc[i][j]);
        }
    }
    sums
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
    use crate::model::cpu::convert::quantize_q8;
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
        (m.for_cpu(), blob)
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

    /// The input as a format multiplies it: rounded to bf16 for bf16 rows, quantized to int8
    /// blocks for q8/q4 rows.
    fn as_multiplied(x: &[f32], precision: Precision) -> Vec<f32> {
        match precision {
            Precision::BF16 => x.iter().map(|&v| bf16_to_f32(f32_to_bf16(v))).collect(),
            Precision::Q8 | Precision::Q4 => {
                let (mut q, mut d) = (vec![0i8; x.len()], vec![0f32; x.len() / BLOCK]);
                quantize_q8(x, &mut q, &mut d);
                q.iter()
                    .enumerate()
                    .map(|(i, &q)| q as f32 * d[i / BLOCK])
                    .collect()
            }
            _ => x.to_vec(),
        }
    }

    fn worst(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    const PRECISIONS: [Precision; 5] = [
        Precision::F32,
        Precision::F16,
        Precision::BF16,
        Precision::Q8,
        Precision::Q4,
    ];

    fn available() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|i| i.available())
    }

    /// Every format on every instruction set this CPU has (AVX-512, AVX-VNNI, AVX2 and the
    /// portable lanes agree through the one reference), with 1 to 16 inputs, row counts
    /// that leave partial tiles, and widths that leave a tail. Integer sums are exact, so
    /// the quantized formats match the reference over the quantized input up to float
    /// rounding.
    #[test]
    fn every_format_matches_the_reference_on_every_instruction_set() {
        for precision in PRECISIONS {
            let quantized = precision.float_dtype().is_none();
            for cols in [128, 64, 96, 40] {
                if quantized && cols % BLOCK != 0 {
                    continue;
                }
                let rows = 13;
                let w = values(rows * cols, 7);
                let (w, _blob) = matrix(&w, [rows, cols], precision);
                for m in 1..=16 {
                    let x = values(m * cols, 11 + m as u32);
                    let expected = reference(&as_multiplied(&x, precision), &w, m);
                    for isa in available() {
                        let mut out = vec![0f32; m * rows];
                        let mut prepared = PreparedInput::default();
                        matmul_on(isa, &x, m, [Job(&w, &mut out)], &mut prepared);
                        let err = worst(&out, &expected);
                        assert!(
                            err <= 1e-4,
                            "{precision} on {}: {cols} cols, {m} inputs: off by {err}",
                            isa.name()
                        );
                    }
                }
            }
        }
    }

    /// A quantized product of one input row is the same, to the bit, alone or among others:
    /// each (row, input) pair sums its blocks in the same order in any tile.
    #[test]
    fn a_quantized_row_alone_equals_it_among_others() {
        let (rows, cols, m) = (10, 128, 7);
        for precision in [Precision::Q8, Precision::Q4] {
            let (w, _blob) = matrix(&values(rows * cols, 3), [rows, cols], precision);
            let x = values(m * cols, 5);
            for isa in available() {
                let mut prepared = PreparedInput::default();
                let mut together = vec![0f32; m * rows];
                matmul_on(isa, &x, m, [Job(&w, &mut together)], &mut prepared);
                for t in 0..m {
                    let mut alone = vec![0f32; rows];
                    let row = &x[t * cols..(t + 1) * cols];
                    matmul_on(isa, row, 1, [Job(&w, &mut alone)], &mut prepared);
                    assert_eq!(
                        alone,
                        together[t * rows..(t + 1) * rows],
                        "{precision} input {t}"
                    );
                }
            }
        }
    }

    /// Several jobs in one call give what each gives alone.
    #[test]
    fn jobs_of_one_call_equal_each_alone() {
        let (cols, m) = (64, 5);
        let x = values(m * cols, 9);
        for precision in PRECISIONS {
            let (a, _x) = matrix(&values(12 * cols, 1), [12, cols], precision);
            let (b, _y) = matrix(&values(20 * cols, 2), [20, cols], precision);
            let mut prepared = PreparedInput::default();
            let (mut both_a, mut both_b) = (vec![0f32; m * 12], vec![0f32; m * 20]);
            matmul(
                &x,
                m,
                [Job(&a, &mut both_a), Job(&b, &mut both_b)],
                &mut prepared,
            );
            let (mut alone_a, mut alone_b) = (vec![0f32; m * 12], vec![0f32; m * 20]);
            matmul(&x, m, [Job(&a, &mut alone_a)], &mut prepared);
            matmul(&x, m, [Job(&b, &mut alone_b)], &mut prepared);
            assert_eq!((both_a, both_b), (alone_a, alone_b), "{precision}");
        }
    }

    /// The row split over 1 to 8 threads gives every format the same products, to the bit:
    /// the split falls on whole tiles and each row is computed alone.
    #[cfg(feature = "threads")]
    #[test]
    fn every_thread_count_gives_the_same_products() {
        let (rows, cols) = (301, 256);
        for precision in PRECISIONS {
            let (w, _blob) = matrix(&values(rows * cols, 4), [rows, cols], precision);
            for m in [1, 5, 16] {
                let x = values(m * cols, 6);
                let on = |threads: usize| {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let mut out = vec![0f32; m * rows];
                    let mut prepared = PreparedInput::default();
                    pool.install(|| matmul(&x, m, [Job(&w, &mut out)], &mut prepared));
                    out
                };
                let one = on(1);
                for threads in 2..=8 {
                    assert!(
                        on(threads) == one,
                        "{precision}, {m} inputs, {threads} threads"
                    );
                }
            }
        }
    }
}
