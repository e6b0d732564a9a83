//! Dequantization to f32, value for value what ggml's reference `dequantize_row_*`
//! functions (ggml-quants.c) compute. The float operations are written in the same order
//! as there (`d * sc * q` is `(d * sc) * q`, `dl * q - ml` is not fused), so the results
//! agree bit for bit with ggml's reference and with gguf-py's numpy port of it.
//!
//! Works on any run of whole blocks: one row of a tensor or all of it.

// The one place half's types are named: hearth re-exports them through burn.
use burn::tensor::{bf16, f16};
use thiserror::Error;

use super::types::{GgmlType, QK_K};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DequantError {
    #[error("{ty} data of {bytes} bytes is not a whole number of {block_bytes}-byte blocks")]
    PartialBlock {
        ty: GgmlType,
        bytes: usize,
        block_bytes: usize,
    },
    #[error("{ty} data of {bytes} bytes holds {values} values, but the output has room for {out}")]
    OutputLength {
        ty: GgmlType,
        bytes: usize,
        values: usize,
        out: usize,
    },
}

/// Widens `bytes` (whole blocks of `ty`) into `out`, which must hold exactly their values.
pub fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), DequantError> {
    let block_bytes = ty.block_bytes();
    if !bytes.len().is_multiple_of(block_bytes) {
        return Err(DequantError::PartialBlock {
            ty,
            bytes: bytes.len(),
            block_bytes,
        });
    }
    let values = bytes.len() / block_bytes * ty.block_size();
    if out.len() != values {
        return Err(DequantError::OutputLength {
            ty,
            bytes: bytes.len(),
            values,
            out: out.len(),
        });
    }
    let mut each = |block: fn(&[u8], &mut [f32])| {
        for (b, y) in bytes
            .chunks_exact(block_bytes)
            .zip(out.chunks_exact_mut(ty.block_size()))
        {
            block(b, y);
        }
    };
    match ty {
        GgmlType::F32 => each(|b, y| y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        GgmlType::F16 => each(|b, y| y[0] = half_at(b, 0)),
        GgmlType::BF16 => each(|b, y| y[0] = bf16::from_bits(u16_at(b, 0)).to_f32()),
        GgmlType::Q4_0 => each(q4_0),
        GgmlType::Q4_1 => each(q4_1),
        GgmlType::Q5_0 => each(q5_0),
        GgmlType::Q5_1 => each(q5_1),
        GgmlType::Q8_0 => each(q8_0),
        GgmlType::Q2_K => each(q2_k),
        GgmlType::Q3_K => each(q3_k),
        GgmlType::Q4_K => each(q4_k),
        GgmlType::Q5_K => each(q5_k),
        GgmlType::Q6_K => each(q6_k),
        GgmlType::Q8_K => each(q8_k),
    }
    Ok(())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn half_at(b: &[u8], at: usize) -> f32 {
    f16::from_bits(u16_at(b, at)).to_f32()
}

// Blocks of 32: the low nibbles are values 0..16, the high nibbles 16..32.

fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        y[j] = ((qs[j] & 0x0f) as i32 - 8) as f32 * d;
        y[j + 16] = ((qs[j] >> 4) as i32 - 8) as f32 * d;
    }
}

fn q4_1(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    let m = half_at(b, 2);
    let qs = &b[4..20];
    for j in 0..16 {
        y[j] = (qs[j] & 0x0f) as f32 * d + m;
        y[j + 16] = (qs[j] >> 4) as f32 * d + m;
    }
}

/// Value j's fifth bit is bit j of the 32-bit `qh`.
fn fifth_bits(qh: u32, j: usize) -> (u8, u8) {
    (
        (((qh >> j) << 4) & 0x10) as u8,
        ((qh >> (j + 12)) & 0x10) as u8,
    )
}

fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..16 {
        let (h0, h1) = fifth_bits(qh, j);
        y[j] = (((qs[j] & 0x0f) | h0) as i32 - 16) as f32 * d;
        y[j + 16] = (((qs[j] >> 4) | h1) as i32 - 16) as f32 * d;
    }
}

fn q5_1(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    let m = half_at(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let qs = &b[8..24];
    for j in 0..16 {
        let (h0, h1) = fifth_bits(qh, j);
        y[j] = ((qs[j] & 0x0f) | h0) as f32 * d + m;
        y[j + 16] = ((qs[j] >> 4) | h1) as f32 * d + m;
    }
}

fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    for (y, &q) in y.iter_mut().zip(&b[2..34]) {
        *y = q as i8 as f32 * d;
    }
}

// Super-blocks of 256. The 2- and 3-bit types walk the quants as ggml does: two runs of
// 32 bytes, each read four times at shifts 0, 2, 4, 6, in halves of 16 with their own scale.

fn q2_k(b: &[u8], y: &mut [f32]) {
    let scales = &b[0..16];
    let qs = &b[16..80];
    let d = half_at(b, 80);
    let min = half_at(b, 82);
    let mut at = 0;
    let mut is = 0;
    for q in qs.as_chunks::<32>().0 {
        for shift in [0, 2, 4, 6] {
            for half in q.as_chunks::<16>().0 {
                let sc = scales[is];
                is += 1;
                let dl = d * (sc & 0x0f) as f32;
                let ml = min * (sc >> 4) as f32;
                for &q in half {
                    y[at] = dl * ((q >> shift) & 3) as f32 - ml;
                    at += 1;
                }
            }
        }
    }
}

/// The sixteen 6-bit scales of a Q3_K block, less their offset of 32: low nibbles in
/// bytes 0..8 (values 0..8 low, 8..16 high), the top two bits in bytes 8..12.
fn q3_k_scales(s: &[u8]) -> [i32; 16] {
    let mut out = [0; 16];
    for (i, out) in out.iter_mut().enumerate() {
        let low = if i < 8 { s[i] & 0x0f } else { s[i - 8] >> 4 };
        let high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        *out = (low | high << 4) as i32 - 32;
    }
    out
}

fn q3_k(b: &[u8], y: &mut [f32]) {
    let hmask = &b[0..32];
    let qs = &b[32..96];
    let scales = q3_k_scales(&b[96..108]);
    let d = half_at(b, 108);
    let mut at = 0;
    let mut is = 0;
    // The high bit of value k's quant is bit `plane` of hmask[k % 32]; a clear bit means -4.
    let mut plane = 0;
    for q in qs.as_chunks::<32>().0 {
        for shift in [0, 2, 4, 6] {
            for (h, half) in q.as_chunks::<16>().0.iter().enumerate() {
                let dl = d * scales[is] as f32;
                is += 1;
                for (l, &q) in half.iter().enumerate() {
                    let high = if (hmask[h * 16 + l] >> plane) & 1 == 1 {
                        0
                    } else {
                        4
                    };
                    y[at] = dl * (((q >> shift) & 3) as i32 - high) as f32;
                    at += 1;
                }
            }
            plane += 1;
        }
    }
}

/// Scale and min of sub-block j (of 8) of a Q4_K/Q5_K block, 6 bits each in 12 bytes
/// (ggml's `get_scale_min_k4`).
fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

fn q4_k(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    let min = half_at(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (j, (q, y)) in qs
        .as_chunks::<32>()
        .0
        .iter()
        .zip(y.as_chunks_mut::<64>().0)
        .enumerate()
    {
        let (sc1, m1) = scale_min_k4(2 * j, scales);
        let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
        let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
        for l in 0..32 {
            y[l] = d1 * (q[l] & 0x0f) as f32 - m1;
            y[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

fn q5_k(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    let min = half_at(b, 2);
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for (j, (q, y)) in qs
        .as_chunks::<32>()
        .0
        .iter()
        .zip(y.as_chunks_mut::<64>().0)
        .enumerate()
    {
        let (sc1, m1) = scale_min_k4(2 * j, scales);
        let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
        let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
        // The fifth bits of these 64 values are bits 2j and 2j+1 of qh.
        let (u1, u2) = (1u8 << (2 * j), 2u8 << (2 * j));
        for l in 0..32 {
            let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            y[l] = d1 * ((q[l] & 0x0f) + h1) as f32 - m1;
            y[l + 32] = d2 * ((q[l] >> 4) + h2) as f32 - m2;
        }
    }
}

fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 208);
    // Two halves of 128 values, each with 64 bytes of low nibbles, 32 of high bit pairs
    // and 8 signed scales (one per 16 values).
    for n in 0..2 {
        let ql = &b[64 * n..64 * n + 64];
        let qh = &b[128 + 32 * n..128 + 32 * n + 32];
        let sc = &b[192 + 8 * n..192 + 8 * n + 8];
        let y = &mut y[128 * n..128 * n + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * sc[is] as i8 as f32 * q1 as f32;
            y[l + 32] = d * sc[is + 2] as i8 as f32 * q2 as f32;
            y[l + 64] = d * sc[is + 4] as i8 as f32 * q3 as f32;
            y[l + 96] = d * sc[is + 6] as i8 as f32 * q4 as f32;
        }
    }
}

fn q8_k(b: &[u8], y: &mut [f32]) {
    let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    // bsums (the sums of each 16 quants) only speed up dot products; the values ignore them.
    for (y, &q) in y.iter_mut().zip(&b[4..4 + QK_K]) {
        *y = d * q as i8 as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked() {
        let mut out = [0.0; 32];
        assert_eq!(
            dequantize(GgmlType::Q4_0, &[0; 17], &mut out)
                .unwrap_err()
                .to_string(),
            "Q4_0 data of 17 bytes is not a whole number of 18-byte blocks"
        );
        assert_eq!(
            dequantize(GgmlType::Q4_0, &[0; 36], &mut out)
                .unwrap_err()
                .to_string(),
            "Q4_0 data of 36 bytes holds 64 values, but the output has room for 32"
        );
        assert!(dequantize(GgmlType::Q4_0, &[], &mut []).is_ok());
    }

    /// gguf-py cannot dequantize Q8_K, so the fixture has none; this checks it by hand.
    #[test]
    fn q8_k_is_d_times_q() {
        let mut block = vec![0u8; GgmlType::Q8_K.block_bytes()];
        block[..4].copy_from_slice(&0.375f32.to_le_bytes());
        for i in 0..QK_K {
            block[4 + i] = (i as u8).wrapping_mul(37);
        }
        // bsums: arbitrary, they must not matter.
        block[4 + QK_K..].fill(0xab);
        let mut out = vec![0.0; QK_K];
        dequantize(GgmlType::Q8_K, &block, &mut out).unwrap();
        for (i, &y) in out.iter().enumerate() {
            assert_eq!(y, 0.375 * ((i as u8).wrapping_mul(37) as i8) as f32);
        }
    }

    #[test]
    fn q4_0_known_block() {
        // d = 0.5; value j low nibble j % 16, high nibble 15 - j % 16.
        let mut block = vec![0x00, 0x38];
        block.extend((0..16u8).map(|j| j | (15 - j) << 4));
        let mut out = [0.0; 32];
        dequantize(GgmlType::Q4_0, &block, &mut out).unwrap();
        for j in 0..16 {
            assert_eq!(out[j], (j as f32 - 8.0) * 0.5);
            assert_eq!(out[j + 16], (7.0 - j as f32) * 0.5);
        }
    }
}
