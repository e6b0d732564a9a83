// One f16 scale per block of 32 values, two per u32; each row starts on a whole u32.
const SCALES_PER_ROW: u32 = {{SCALES_PER_ROW}}u;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
fn scale(row: u32, g: u32) -> f32 {
    let i = row * SCALES_PER_ROW + g / 8u;
    let pair = unpack2x16float(scales[i / 2u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
}
