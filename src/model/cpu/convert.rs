//! Scalar conversions and block quantization, written branch-free so that the compiler turns
//! the loops over them into SIMD (AVX2 natively, simd128 in wasm).

/// Values per quantization block, each block with one scale (llama.cpp's q8_0 and q4_0).
pub const BLOCK: usize = 32;

#[inline(always)]
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits((bits as u32) << 16)
}

/// IEEE half to single without branches: shift the exponent and mantissa into place and
/// rescale by 2^112, which also normalizes subnormals; infinities and NaNs keep an all-ones
/// exponent.
#[inline(always)]
pub fn f16_to_f32(bits: u16) -> f32 {
    let bits = bits as u32;
    let magnitude = bits & 0x7fff;
    let scaled = (f32::from_bits(magnitude << 13) * f32::from_bits(0x7780_0000)).to_bits();
    let special = if magnitude >= 0x7c00 { 0x7f80_0000 } else { 0 };
    f32::from_bits(scaled | special | ((bits & 0x8000) << 16))
}

/// Single to bfloat16, rounded to nearest even (NaNs stay NaNs).
#[inline(always)]
pub fn f32_to_bf16(value: f32) -> u16 {
    let bits = value.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
    if value.is_nan() {
        (bits >> 16) as u16 | 0x40
    } else {
        rounded as u16
    }
}

pub fn f32_to_f16(value: f32) -> u16 {
    burn::tensor::f16::from_f32(value).to_bits()
}

/// `v` (within ±2^22) rounded to the nearest integer, ties to even: adding and taking away
/// 1.5 · 2^23 leaves no fraction bits. `f32::round` is a libm call that stops the
/// quantization loops from vectorizing (17% of a q8 prompt's time).
#[inline(always)]
fn round_small(v: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0;
    (v + SHIFT) - SHIFT
}

/// int8 blocks: `q = round(x / d)` with `d = max|x| / 127` per block.
pub fn quantize_q8(values: &[f32], quants: &mut [i8], scales: &mut [f32]) {
    for ((block, q), d) in values
        .as_chunks::<BLOCK>()
        .0
        .iter()
        .zip(quants.as_chunks_mut::<BLOCK>().0.iter_mut())
        .zip(scales.iter_mut())
    {
        let peak = block.iter().fold(0f32, |m, x| m.max(x.abs()));
        *d = peak / 127.0;
        let inverse = if peak > 0.0 { 127.0 / peak } else { 0.0 };
        for (q, x) in q.iter_mut().zip(block) {
            *q = round_small(x * inverse) as i8;
        }
    }
}

/// int4 blocks as llama.cpp's q4_0: `d = m / -8` for the value `m` of largest magnitude, so
/// that value maps to -8 exactly and the rest to -8..=7; byte `i` of a block holds element `i`
/// in its low nibble and element `i + 16` in its high one, each offset by 8.
pub fn quantize_q4(values: &[f32], nibbles: &mut [u8], scales: &mut [f32]) {
    for ((block, packed), d) in values
        .as_chunks::<BLOCK>()
        .0
        .iter()
        .zip(nibbles.as_chunks_mut::<{ BLOCK / 2 }>().0.iter_mut())
        .zip(scales.iter_mut())
    {
        let extreme = block
            .iter()
            .fold(0f32, |m, &x| if x.abs() > m.abs() { x } else { m });
        *d = extreme / -8.0;
        let inverse = if extreme != 0.0 { 1.0 / *d } else { 0.0 };
        let level = |x: f32| ((x * inverse + 8.5) as i32).clamp(0, 15) as u8;
        for (i, byte) in packed.iter_mut().enumerate() {
            *byte = level(block[i]) | (level(block[i + BLOCK / 2]) << 4);
        }
    }
}

/// One q4 block back to signed levels -8..=7.
#[inline(always)]
pub fn unpack_q4(packed: &[u8], out: &mut [i8]) {
    let (low, high) = out.split_at_mut(BLOCK / 2);
    for ((l, h), &byte) in low.iter_mut().zip(high.iter_mut()).zip(packed) {
        *l = (byte & 0x0f) as i8 - 8;
        *h = (byte >> 4) as i8 - 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_half_for_every_value() {
        for bits in 0..=u16::MAX {
            let expected = burn::tensor::f16::from_bits(bits).to_f32();
            let got = f16_to_f32(bits);
            assert!(
                got.to_bits() == expected.to_bits() || (got.is_nan() && expected.is_nan()),
                "{bits:#06x}: {got} != {expected}"
            );
        }
    }

    #[test]
    fn bf16_rounding_matches_half() {
        let mut h = 0x9e37_79b9u32;
        for _ in 0..200_000 {
            h = h
                .wrapping_mul(0x0101_0101)
                .wrapping_add(0x7f4a_7c15)
                .rotate_left(7);
            let value = f32::from_bits(h);
            let expected = burn::tensor::bf16::from_f32(value).to_bits();
            let got = f32_to_bf16(value);
            assert!(
                got == expected || (value.is_nan() && bf16_to_f32(got).is_nan()),
                "{value:e} ({h:#010x}): {got:#06x} != {expected:#06x}"
            );
        }
    }

    #[test]
    fn q8_round_trips_within_half_a_step() {
        let values: Vec<f32> = (0..64)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.13)
            .collect();
        let (mut q, mut d) = (vec![0i8; 64], vec![0f32; 2]);
        quantize_q8(&values, &mut q, &mut d);
        for (i, x) in values.iter().enumerate() {
            let back = q[i] as f32 * d[i / BLOCK];
            assert!(
                (back - x).abs() <= d[i / BLOCK] / 2.0 + 1e-6,
                "{i}: {back} vs {x}"
            );
        }
    }

    #[test]
    fn q4_round_trips_within_half_a_step_and_keeps_the_extreme() {
        let values: Vec<f32> = (0..64)
            .map(|i| ((i * 29 % 31) as f32 - 13.0) * 0.07)
            .collect();
        let (mut packed, mut d) = (vec![0u8; 32], vec![0f32; 2]);
        quantize_q4(&values, &mut packed, &mut d);
        let mut levels = [0i8; BLOCK];
        for b in 0..2 {
            unpack_q4(&packed[b * 16..b * 16 + 16], &mut levels);
            for (i, &level) in levels.iter().enumerate() {
                let x = values[b * BLOCK + i];
                let back = level as f32 * d[b];
                assert!(
                    (back - x).abs() <= d[b].abs() / 2.0 + 1e-6,
                    "{b}/{i}: {back} vs {x}"
                );
            }
        }
        assert!(levels.contains(&-8), "the extreme maps to -8");
    }
}
