// f16 weights, two per u32 (no `shader-f16` needed): widened in registers.
@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>;
fn w4(row: u32, g: u32) -> vec4<f32> {
    let p = w[row * (COLS / 4u) + g];
    return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));
}
