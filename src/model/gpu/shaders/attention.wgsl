// One query row of one head against its key/value head's cache up to its own position
// (causal), one workgroup per (head, token). Keys are taken a block of WG at a time with a
// running maximum and sum (online softmax), so any length runs in fixed workgroup memory;
// grouped-query heads read their shared K/V head in place.
const D: u32 = {{D}}u;
const QH: u32 = {{QH}}u;
const KVH: u32 = {{KVH}}u;
const GROUP: u32 = QH / KVH;
const QKV: u32 = (QH + 2u * KVH) * D;
// Output dimensions per thread.
const DPT: u32 = (D + WG - 1u) / WG;
const NONE: f32 = -3.0e38;

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> keys: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> q: array<vec4<f32>, D / 4u>;
var<workgroup> p: array<f32, WG>;
var<workgroup> peak: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let head = wid.x;
    let t = wid.y;
    if t >= step.n {
        return;
    }
    let len = step.start + t + 1u;
    let kv = head / GROUP * step.cap;
    for (var i = lid; i < D / 4u; i += WG) {
        let at = t * QKV + head * D + i * 4u;
        q[i] = vec4<f32>(qkv[at], qkv[at + 1u], qkv[at + 2u], qkv[at + 3u]);
    }
    workgroupBarrier();
    let scale = 1.0 / sqrt(f32(D));
    var m = NONE;
    var l = 0.0;
    var acc: array<f32, DPT>;
    for (var block = 0u; block < len; block += WG) {
        let j = block + lid;
        var s = NONE;
        if j < len {
            var qk = 0.0;
            for (var i = 0u; i < D / 4u; i++) {
                qk += dot(keys[(kv + j) * (D / 4u) + i], q[i]);
            }
            s = qk * scale;
        }
        peak[lid] = s;
        workgroupBarrier();
        for (var k = WG / 2u; k > 0u; k >>= 1u) {
            if lid < k {
                peak[lid] = max(peak[lid], peak[lid + k]);
            }
            workgroupBarrier();
        }
        let m_new = max(m, peak[0]);
        p[lid] = select(0.0, exp(s - m_new), j < len);
        workgroupBarrier();
        let correction = exp(m - m_new);
        var sum = 0.0;
        for (var d = 0u; d < DPT; d++) {
            acc[d] *= correction;
        }
        let count = min(WG, len - block);
        for (var jj = 0u; jj < count; jj++) {
            let pj = p[jj];
            sum += pj;
            let row = (kv + block + jj) * D;
            for (var d = 0u; d < DPT; d++) {
                let i = lid + d * WG;
                if i < D {
                    acc[d] += pj * values[row + i];
                }
            }
        }
        l = l * correction + sum;
        m = m_new;
        workgroupBarrier();
    }
    for (var d = 0u; d < DPT; d++) {
        let i = lid + d * WG;
        if i < D {
            out[t * QH * D + head * D + i] = acc[d] / l;
        }
    }
}
