//! The layout the integer kernels read q8/q4 rows and their int8 input in: blocks of 32 in
//! groups of `g` (4 where a row's block count allows, else 2, else 1), interleaved so that each
//! 32-byte load holds eight lanes of four bytes, lane `l` from block `l % g`.
//!
//! A lane's byte products then sum to one block's, in integers, across the group's `g` loads
//! (`vpdpbusd` accumulates lanes of four bytes), and a block's scale is applied once per group
//! and lane instead of once per block and product: this is what lets a prompt multiply at the
//! integer units' pace. The layout only moves bytes: a row keeps its size.

use super::convert::{BLOCK, quantize_q8};
use super::dispatch::for_each_chunk_pair;

/// Bytes one load takes: a step of a group, whose blocks have `32 / g` values in it each.
pub const STEP: usize = 32;
/// The most blocks in a group.
pub const MAX_GROUP: usize = 4;

/// Blocks per group for rows of `cols` values (whole blocks).
pub fn group_blocks(cols: usize) -> usize {
    match cols / BLOCK {
        b if b % 4 == 0 => 4,
        b if b % 2 == 0 => 2,
        _ => 1,
    }
}

/// Where value `e` of block `j` lies within its group of `g`: load `e / (32 / g)`, lane
/// `j + g · p` for the `p`-th four values of the block in that load.
#[inline(always)]
fn position(e: usize, j: usize, g: usize) -> usize {
    let per_step = STEP / g;
    (e / per_step) * STEP + ((e % per_step) / 4 * g + j) * 4 + e % 4
}

/// A row of int8 levels (whole blocks) into groups of `g`, four bytes at a time (this runs on
/// every product's input).
pub fn interleave_i8(row: &[i8], g: usize, out: &mut [i8]) {
    for (group, out) in row
        .chunks_exact(g * BLOCK)
        .zip(out.chunks_exact_mut(g * BLOCK))
    {
        for (lane, four) in out.as_chunks_mut::<4>().0.iter_mut().enumerate() {
            let (step, slot) = (lane / 8, lane % 8);
            let e = step * (STEP / g) + slot / g * 4;
            four.copy_from_slice(&group[(slot % g) * BLOCK + e..][..4]);
        }
    }
}

/// Where, within a group of `g` q4 blocks (`16 · g` bytes), a step's byte `i` lies and in
/// which nibble: two steps share each 32 bytes, low nibbles and high (for `g` = 1 the one
/// step's 32 values share 16 bytes, low nibbles the first half: q4_0's own layout).
#[inline(always)]
fn nibble(step: usize, i: usize, g: usize) -> (usize, u32) {
    if g == 1 {
        (i % 16, 4 * (i / 16) as u32)
    } else {
        (step / 2 * STEP + i, 4 * (step % 2) as u32)
    }
}

/// A row of q4 blocks (`convert::quantize_q4`'s bytes, levels offset by 8) into groups of `g`.
pub fn interleave_q4(row: &[u8], g: usize, out: &mut [u8]) {
    let mut levels = [0i8; BLOCK];
    out.fill(0);
    for (b, packed) in row.as_chunks::<{ BLOCK / 2 }>().0.iter().enumerate() {
        super::convert::unpack_q4(packed, &mut levels);
        let group = &mut out[b / g * g * BLOCK / 2..][..g * BLOCK / 2];
        for (e, &level) in levels.iter().enumerate() {
            let p = position(e, b % g, g);
            let (byte, shift) = nibble(p / STEP, p % STEP, g);
            group[byte] |= ((level + 8) as u8) << shift;
        }
    }
}

/// Level `e` of block `b` of a grouped q8 row.
pub fn level_i8(row: &[i8], g: usize, b: usize, e: usize) -> i8 {
    row[b / g * g * BLOCK + position(e, b % g, g)]
}

/// Level `e` of block `b` of a grouped q4 row, -8..=7.
pub fn level_q4(row: &[u8], g: usize, b: usize, e: usize) -> i8 {
    let p = position(e, b % g, g);
    let (byte, shift) = nibble(p / STEP, p % STEP, g);
    ((row[b / g * g * BLOCK / 2 + byte] >> shift) & 0x0f) as i8 - 8
}

/// Input rows as the integer kernels take them: per row its int8 groups, each block's scale,
/// and per group and lane the sum of the lane's bytes over the group's loads times -128 and
/// times -8: what the offset that makes q8 weights unsigned adds, and q4's nibbles' offset,
/// to be taken off again (computed once here rather than in every product).
#[derive(Default, Clone)]
pub struct Int8Rows {
    pub quants: Vec<i8>,
    pub scales: Vec<f32>,
    pub q8_bases: Vec<i32>,
    pub q4_bases: Vec<i32>,
}

impl Int8Rows {
    /// Quantizes the `rows` rows of `x` (each `cols` long, whole blocks), a row per core at
    /// a time.
    pub fn quantize(&mut self, x: &[f32], rows: usize, cols: usize) {
        let g = group_blocks(cols);
        let blocks = cols / BLOCK;
        self.quants.resize(rows * cols, 0);
        self.scales.resize(rows * blocks, 0.0);
        self.q8_bases.resize(rows * blocks / g * 8, 0);
        self.q4_bases.resize(rows * blocks / g * 8, 0);
        let quants = (&mut self.quants[..], cols);
        for_each_chunk_pair(quants, (&mut self.scales, blocks), |t, quants, scales| {
            let mut plain = [0i8; MAX_GROUP * BLOCK];
            let x = &x[t * cols..(t + 1) * cols];
            for (i, values) in x.chunks_exact(g * BLOCK).enumerate() {
                let plain = &mut plain[..g * BLOCK];
                quantize_q8(values, plain, &mut scales[i * g..(i + 1) * g]);
                interleave_i8(plain, g, &mut quants[i * g * BLOCK..(i + 1) * g * BLOCK]);
            }
        });
        let bases = (self.q8_bases.as_chunks_mut::<8>().0.iter_mut())
            .zip(self.q4_bases.as_chunks_mut::<8>().0);
        for (group, (q8, q4)) in self.quants.chunks_exact(g * BLOCK).zip(bases) {
            for lane in 0..8 {
                let sum: i32 = (0..g)
                    .flat_map(|s| &group[s * STEP + lane * 4..][..4])
                    .map(|&q| q as i32)
                    .sum();
                (q8[lane], q4[lane]) = (-128 * sum, -8 * sum);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cpu::convert::{quantize_q4, unpack_q4};

    #[test]
    fn every_value_has_one_place_and_reads_back() {
        for blocks in [8, 6, 7, 1] {
            let cols = blocks * BLOCK;
            let g = group_blocks(cols);
            let row: Vec<i8> = (0..cols).map(|i| (i % 251) as i8 - 125).collect();
            let mut out = vec![0i8; cols];
            interleave_i8(&row, g, &mut out);
            for (i, &v) in row.iter().enumerate() {
                assert_eq!(level_i8(&out, g, i / BLOCK, i % BLOCK), v, "{blocks}: {i}");
            }
            let values: Vec<f32> = (0..cols)
                .map(|i| ((i * 37 % 29) as f32 - 14.0) * 0.1)
                .collect();
            let (mut packed, mut d) = (vec![0u8; cols / 2], vec![0f32; blocks]);
            quantize_q4(&values, &mut packed, &mut d);
            let mut grouped = vec![0u8; cols / 2];
            interleave_q4(&packed, g, &mut grouped);
            let mut levels = [0i8; BLOCK];
            for b in 0..blocks {
                unpack_q4(&packed[b * 16..(b + 1) * 16], &mut levels);
                for (e, &level) in levels.iter().enumerate() {
                    assert_eq!(level_q4(&grouped, g, b, e), level, "{blocks}: {b}/{e}");
                }
            }
        }
    }

    /// A lane's four bytes in each of a group's loads come from one block.
    #[test]
    fn a_lane_holds_one_block() {
        for g in [1, 2, 4] {
            for e in 0..BLOCK {
                for j in 0..g {
                    assert_eq!((position(e, j, g) % STEP) / 4 % g, j);
                }
            }
        }
    }
}
