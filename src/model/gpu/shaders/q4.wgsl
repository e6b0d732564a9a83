// q4 weights: per block of 32, 16 bytes whose low nibbles are values 0..16 and high nibbles
// 16..32, each level biased by 8 (the CPU kernels' and GGUF q4_0's layout).
@group(0) @binding(1) var<storage, read> w: array<u32>;
fn w4(row: u32, g: u32) -> vec4<f32> {
    let c = (g & 7u) * 4u;
    let word = w[row * (COLS / 8u) + (g / 8u) * 4u + (c & 15u) / 4u];
    let p = (word >> select(0u, 4u, c >= 16u)) & 0x0f0f0f0fu;
    let q = vec4<i32>(vec4<u32>(p & 0xffu, (p >> 8u) & 0xffu, (p >> 16u) & 0xffu, p >> 24u));
    return vec4<f32>(q - vec4<i32>(8)) * scale(row, g);
}
