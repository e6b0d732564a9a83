// One workgroup per (head, token) of the pass's q/k/v rows: q heads are rotated in place, k
// heads rotated into the key cache, v heads copied into the value cache, each at its
// position. QK_NORM: Qwen3's per-head RMSNorm of q and k first.
const D: u32 = {{D}}u;
const HALF: u32 = D / 2u;
const QH: u32 = {{QH}}u;
const KVH: u32 = {{KVH}}u;
const CHUNK: u32 = {{CHUNK}}u;
const QKV: u32 = (QH + 2u * KVH) * D;

@group(0) @binding(1) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> keys: array<f32>;
@group(0) @binding(3) var<storage, read_write> values: array<f32>;
// The pass's ids, then cos and sin, [CHUNK, HALF] each, as f32 bits.
@group(0) @binding(6) var<storage, read> tables: array<u32>;
//#if QK_NORM
const EPS: f32 = {{EPS}};
@group(0) @binding(4) var<storage, read> q_norm: array<f32>;
@group(0) @binding(5) var<storage, read> k_norm: array<f32>;
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let head = wid.x;
    let t = wid.y;
    if t >= step.n {
        return;
    }
    let base = t * QKV + head * D;
    let pos = step.start + t;
    if head >= QH + KVH {
        let at = ((head - QH - KVH) * step.cap + pos) * D;
        for (var i = lid; i < D; i += WG) {
            values[at + i] = qkv[base + i];
        }
        return;
    }
    var scale = 1.0;
//#if QK_NORM
    var s = 0.0;
    for (var i = lid; i < D; i += WG) {
        let v = qkv[base + i];
        s += v * v;
    }
    scale = 1.0 / sqrt(workgroup_sum(s, lid) / f32(D) + EPS);
//#endif
    for (var j = lid; j < HALF; j += WG) {
        var a = qkv[base + j] * scale;
        var b = qkv[base + j + HALF] * scale;
//#if QK_NORM
        if head < QH {
            a *= q_norm[j];
            b *= q_norm[j + HALF];
        } else {
            a *= k_norm[j];
            b *= k_norm[j + HALF];
        }
//#endif
        let c = bitcast<f32>(tables[CHUNK + t * HALF + j]);
        let s = bitcast<f32>(tables[CHUNK + (CHUNK + t) * HALF + j]);
        let ra = a * c - b * s;
        let rb = b * c + a * s;
        if head < QH {
            qkv[base + j] = ra;
            qkv[base + j + HALF] = rb;
        } else {
            let at = ((head - QH) * step.cap + pos) * D;
            keys[at + j] = ra;
            keys[at + j + HALF] = rb;
        }
    }
}
