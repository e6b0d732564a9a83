// out[t] = x[t] / sqrt(mean(x[t]^2) + EPS) * weight, one workgroup per token; LAST: only the
// pass's last token, into row 0 (the final norm before lm_head).
const H: u32 = {{H}}u;
const EPS: f32 = {{EPS}};

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
//#if LAST
    let t = step.n - 1u;
    let o = 0u;
//#else
    let t = wid.x;
    let o = t;
//#endif
    var s = 0.0;
    for (var i = lid; i < H; i += WG) {
        let v = x[t * H + i];
        s += v * v;
    }
    let scale = 1.0 / sqrt(workgroup_sum(s, lid) / f32(H) + EPS);
    for (var i = lid; i < H; i += WG) {
        out[o * H + i] = x[t * H + i] * scale * weight[i];
    }
}
