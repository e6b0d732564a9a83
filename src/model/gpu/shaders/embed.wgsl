// x[t, :] = the embedding row of token t, for the tokens whose row lies in this part of the
// (possibly split) matrix.
const COLS: u32 = {{COLS}}u;
const ROW0: u32 = {{ROW0}}u;
const ROWS: u32 = {{ROWS}}u;

// ids, then the RoPE tables (see rope.wgsl).
@group(0) @binding(6) var<storage, read> tables: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = wid.x;
    let id = tables[t];
    if t >= step.n || id < ROW0 || id >= ROW0 + ROWS {
        return;
    }
    for (var g = lid; g < COLS / 4u; g += WG) {
        out[t * (COLS / 4u) + g] = w4(id - ROW0, g);
    }
}
