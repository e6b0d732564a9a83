// bf16 weights, two per u32: the upper half of an f32.
@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>;
fn w4(row: u32, g: u32) -> vec4<f32> {
    let p = w[row * (COLS / 4u) + g];
    return vec4<f32>(
        bitcast<f32>(p.x << 16u), bitcast<f32>(p.x & 0xffff0000u),
        bitcast<f32>(p.y << 16u), bitcast<f32>(p.y & 0xffff0000u),
    );
}
