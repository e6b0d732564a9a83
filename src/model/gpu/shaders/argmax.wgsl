// The index of the largest logit in two steps: PARTS workgroups each reduce a stretch of the
// row to (value, index), then one workgroup reduces those and writes the id. Ties go to the
// lower index, as on the CPU.
const V: u32 = {{V}}u;
const PARTS: u32 = 256u;

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> pairs: array<vec2<u32>, PARTS>;
@group(0) @binding(3) var<storage, read_write> id: array<u32>;

var<workgroup> best: array<vec2<u32>, WG>;

// Whether (value, index) a beats b.
fn beats(a: vec2<u32>, b: vec2<u32>) -> bool {
    let va = bitcast<f32>(a.x);
    let vb = bitcast<f32>(b.x);
    return va > vb || (va == vb && a.y < b.y);
}

fn reduce(lid: u32) {
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if lid < k && beats(best[lid + k], best[lid]) {
            best[lid] = best[lid + k];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let stretch = (V + PARTS - 1u) / PARTS;
    let end = min(V, (wid.x + 1u) * stretch);
    var b = vec2<u32>(bitcast<u32>(NONE), 0xffffffffu);
    for (var i = wid.x * stretch + lid; i < end; i += WG) {
        let c = vec2<u32>(bitcast<u32>(logits[i]), i);
        if beats(c, b) {
            b = c;
        }
    }
    best[lid] = b;
    reduce(lid);
    if lid == 0u {
        pairs[wid.x] = best[0];
    }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
    var b = vec2<u32>(bitcast<u32>(NONE), 0xffffffffu);
    for (var i = lid; i < PARTS; i += WG) {
        if beats(pairs[i], b) {
            b = pairs[i];
        }
    }
    best[lid] = b;
    reduce(lid);
    if lid == 0u {
        id[0] = best[0].y;
    }
}
const NONE: f32 = -3.0e38;
