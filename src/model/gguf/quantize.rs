//! Rows of f32 into ggml's blocks, for the GGUF test files make-test-model writes: q8_0 and
//! q4_0 with llama.cpp's rounding, and the k-quants with a plain per-block fit (min/max per
//! sub-block, not llama.cpp's search for the best scales: the layout is what matters to a
//! reader, and it is checked against the dequantizer, itself checked against gguf-py).

use burn::tensor::f16;

use super::GgmlType;

/// Values per k-quant super-block.
const QK: usize = 256;

/// `row` (a whole number of blocks) in `ty`'s bytes; `None` for a type not written here.
pub fn quantize(ty: GgmlType, row: &[f32]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(row.len() / ty.block_size() * ty.block_bytes());
    let blocks = row.chunks_exact(ty.block_size());
    match ty {
        GgmlType::F32 => row.iter().for_each(|v| out.extend(v.to_le_bytes())),
        GgmlType::F16 => row
            .iter()
            .for_each(|v| out.extend(f16::from_f32(*v).to_le_bytes())),
        GgmlType::Q8_0 => blocks.for_each(|b| q8_0(b, &mut out)),
        GgmlType::Q4_0 => blocks.for_each(|b| q4_0(b, &mut out)),
        GgmlType::Q4_K => blocks.for_each(|b| q4_k(b, &mut out)),
        GgmlType::Q6_K => blocks.for_each(|b| q6_k(b, &mut out)),
        _ => return None,
    }
    Some(out)
}

fn half(v: f32, out: &mut Vec<u8>) -> f32 {
    let h = f16::from_f32(v);
    out.extend(h.to_le_bytes());
    h.to_f32()
}

fn inverse(d: f32) -> f32 {
    if d == 0.0 { 0.0 } else { 1.0 / d }
}

fn q8_0(block: &[f32], out: &mut Vec<u8>) {
    let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
    let id = inverse(amax / 127.0);
    half(amax / 127.0, out);
    out.extend(block.iter().map(|x| (x * id).round() as i8 as u8));
}

fn q4_0(block: &[f32], out: &mut Vec<u8>) {
    let extreme = block
        .iter()
        .fold(0f32, |m, &x| if x.abs() > m.abs() { x } else { m });
    let d = extreme / -8.0;
    let id = inverse(d);
    half(d, out);
    let level = |x: f32| ((x * id + 8.5) as i32).clamp(0, 15) as u8;
    out.extend((0..16).map(|i| level(block[i]) | (level(block[i + 16]) << 4)));
}

/// 8 sub-blocks of 32: `x ≈ d·sc·q − dmin·m` with 6-bit `sc`, `m` and 4-bit `q`.
fn q4_k(block: &[f32], out: &mut Vec<u8>) {
    let (mut scales, mut mins) = ([0f32; 8], [0f32; 8]);
    for (i, sub) in block.as_chunks::<32>().0.iter().enumerate() {
        let lo = sub.iter().fold(0f32, |m, &x| m.min(x));
        let hi = sub.iter().fold(f32::MIN, |m, &x| m.max(x));
        scales[i] = (hi - lo) / 15.0;
        mins[i] = -lo;
    }
    let peak = |v: &[f32; 8]| v.iter().fold(0f32, |m, &x| m.max(x));
    let d = half(peak(&scales) / 63.0, out);
    let dmin = half(peak(&mins) / 63.0, out);
    let six = |v: f32, unit: f32| ((v * inverse(unit)).round() as i32).clamp(0, 63) as u8;
    let sc: Vec<u8> = scales.iter().map(|&s| six(s, d)).collect();
    let m: Vec<u8> = mins.iter().map(|&v| six(v, dmin)).collect();
    // ggml's 12-byte packing of eight 6-bit scales and mins (get_scale_min_k4 reversed).
    let mut packed = [0u8; 12];
    for j in 0..4 {
        packed[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
        packed[j + 4] = m[j] | ((m[j + 4] >> 4) << 6);
        packed[j + 8] = (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4);
    }
    out.extend(packed);
    let mut q = [0u8; QK];
    for (i, sub) in block.as_chunks::<32>().0.iter().enumerate() {
        let (step, offset) = (d * sc[i] as f32, dmin * m[i] as f32);
        for (l, &x) in sub.iter().enumerate() {
            q[i * 32 + l] = (((x + offset) * inverse(step)).round() as i32).clamp(0, 15) as u8;
        }
    }
    for chunk in 0..4 {
        let (a, b) = (chunk * 64, chunk * 64 + 32);
        out.extend((0..32).map(|l| q[a + l] | (q[b + l] << 4)));
    }
}

/// 16 sub-blocks of 16: `x ≈ d·sc·(q − 32)` with 8-bit signed `sc` and 6-bit `q`.
fn q6_k(block: &[f32], out: &mut Vec<u8>) {
    let mut scales = [0f32; 16];
    for (i, sub) in block.as_chunks::<16>().0.iter().enumerate() {
        scales[i] = sub.iter().fold(0f32, |m, x| m.max(x.abs())) / 31.0;
    }
    let d = f16::from_f32(scales.iter().fold(0f32, |m, &s| m.max(s)) / 127.0).to_f32();
    let sc: Vec<i8> = scales
        .iter()
        .map(|&s| ((s * inverse(d)).round() as i32).clamp(-128, 127) as i8)
        .collect();
    let mut q = [0u8; QK];
    for (i, sub) in block.as_chunks::<16>().0.iter().enumerate() {
        let step = d * sc[i] as f32;
        for (l, &x) in sub.iter().enumerate() {
            q[i * 16 + l] = ((x * inverse(step)).round() as i32 + 32).clamp(0, 63) as u8;
        }
    }
    let (mut ql, mut qh) = ([0u8; 128], [0u8; 64]);
    for n in 0..2 {
        let (y, l_off, h_off) = (n * 128, n * 64, n * 32);
        for l in 0..32 {
            let [q1, q2, q3, q4] = [q[y + l], q[y + l + 32], q[y + l + 64], q[y + l + 96]];
            ql[l_off + l] = (q1 & 15) | ((q3 & 15) << 4);
            ql[l_off + l + 32] = (q2 & 15) | ((q4 & 15) << 4);
            qh[h_off + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
        }
    }
    out.extend(ql);
    out.extend(qh);
    out.extend(sc.iter().map(|&s| s as u8));
    out.extend(f16::from_f32(d).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng::Rng;
    use crate::model::gguf::dequantize;

    /// Every written type reads back through the dequantizer (checked against gguf-py)
    /// within its own step.
    #[test]
    fn written_blocks_read_back_within_a_step() {
        let mut rng = Rng::new(3);
        let row: Vec<f32> = (0..1024)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect();
        for (ty, bound) in [
            (GgmlType::F32, 0.0),
            (GgmlType::F16, 1e-3),
            (GgmlType::Q8_0, 1.0 / 127.0),
            (GgmlType::Q4_0, 1.0 / 8.0),
            (GgmlType::Q4_K, 2.0 / 15.0),
            (GgmlType::Q6_K, 1.0 / 31.0),
        ] {
            let bytes = quantize(ty, &row).unwrap();
            assert_eq!(
                bytes.len(),
                row.len() / ty.block_size() * ty.block_bytes(),
                "{ty:?}"
            );
            let mut back = vec![0f32; row.len()];
            dequantize(ty, &bytes, &mut back).unwrap();
            let worst = row
                .iter()
                .zip(&back)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(worst <= bound, "{ty:?}: error {worst} over {bound}");
        }
        assert!(quantize(GgmlType::Q5_K, &row).is_none());
    }
}
