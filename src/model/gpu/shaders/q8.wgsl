// q8 weights: int8 levels, four per u32, row after row (the CPU kernels' layout).
@group(0) @binding(1) var<storage, read> w: array<u32>;
fn w4(row: u32, g: u32) -> vec4<f32> {
    let p = w[row * (COLS / 4u) + g];
    let q = vec4<i32>(i32(p << 24u), i32(p << 16u), i32(p << 8u), i32(p)) >> vec4<u32>(24u);
    return vec4<f32>(q) * scale(row, g);
}
