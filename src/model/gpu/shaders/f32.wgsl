// f32 weights: four columns per vector.
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
fn w4(row: u32, g: u32) -> vec4<f32> {
    return w[row * (COLS / 4u) + g];
}
