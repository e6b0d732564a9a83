// out[t, OFFSET + r] (+)= W[r, :] . x[t, :] (+ bias[r]) for the rows of one weight matrix (or
// one part of a split one), every token of the pass. TPR threads share a row (adjacent
// threads reading adjacent columns), WG / TPR rows share a workgroup, and each row is read
// once per TILE tokens, dequantized in registers. REDUCE: the row's threads sum through
// workgroup memory; SUBGROUP: they are one subgroup and sum with subgroupAdd. PAIR: the
// matrix stacks gate over up (2 x ROWS rows) and the row's output is silu(gate) * up.
const COLS: u32 = {{COLS}}u;
const ROWS: u32 = {{ROWS}}u;
const OUT_WIDTH: u32 = {{OUT_WIDTH}}u;
const OFFSET: u32 = {{OFFSET}}u;
const TILE: u32 = {{TILE}}u;
const TPR: u32 = {{TPR}}u;
const RPW: u32 = WG / TPR;

@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
//#if BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
//#endif

//#if REDUCE
var<workgroup> partial: array<f32, WG * TILE>;
//#if PAIR
var<workgroup> partial_up: array<f32, WG * TILE>;
//#endif
//#endif

// The input as the weights' format multiplies it: rounded to bf16 (to nearest even) for
// bf16 weights.
fn input(v: vec4<f32>) -> vec4<f32> {
//#if BF16_INPUT
    let b = bitcast<vec4<u32>>(v);
    return bitcast<vec4<f32>>((b + 0x7fffu + ((b >> vec4<u32>(16u)) & vec4<u32>(1u))) & vec4<u32>(0xffff0000u));
//#else
    return v;
//#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let lane = lid % TPR;
    let unclamped = flat(wid) * RPW + lid / TPR;
    // Rows past the end compute row ROWS - 1 again and write nothing: every thread reaches
    // every barrier.
    let row = min(unclamped, ROWS - 1u);
    let t0 = wid.z * TILE;
    var acc: array<f32, TILE>;
//#if PAIR
    var acc_up: array<f32, TILE>;
//#endif
    for (var g = lane; g < COLS / 4u; g += TPR) {
        let a = w4(row, g);
//#if PAIR
        let b = w4(row + ROWS, g);
//#endif
        for (var t = 0u; t < TILE; t++) {
            // A partial tile reads the last token again rather than past the input.
            let xv = input(x[min(t0 + t, step.n - 1u) * (COLS / 4u) + g]);
            acc[t] += dot(a, xv);
//#if PAIR
            acc_up[t] += dot(b, xv);
//#endif
        }
    }
//#if REDUCE
    for (var t = 0u; t < TILE; t++) {
        partial[lid * TILE + t] = acc[t];
//#if PAIR
        partial_up[lid * TILE + t] = acc_up[t];
//#endif
    }
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
        if lane < s {
            for (var t = 0u; t < TILE; t++) {
                partial[lid * TILE + t] += partial[(lid + s) * TILE + t];
//#if PAIR
                partial_up[lid * TILE + t] += partial_up[(lid + s) * TILE + t];
//#endif
            }
        }
        workgroupBarrier();
    }
    for (var t = 0u; t < TILE; t++) {
        acc[t] = partial[lid * TILE + t];
//#if PAIR
        acc_up[t] = partial_up[lid * TILE + t];
//#endif
    }
//#endif
//#if SUBGROUP
    for (var t = 0u; t < TILE; t++) {
        acc[t] = subgroupAdd(acc[t]);
//#if PAIR
        acc_up[t] = subgroupAdd(acc_up[t]);
//#endif
    }
//#endif
    if lane != 0u || unclamped >= ROWS {
        return;
    }
    for (var t = 0u; t < TILE && t0 + t < step.n; t++) {
        var v = acc[t];
//#if BIAS
        v += bias[row];
//#endif
//#if PAIR
        v = v / (1.0 + exp(-v)) * acc_up[t];
//#endif
        let at = (t0 + t) * OUT_WIDTH + OFFSET + row;
//#if RESIDUAL
        out[at] += v;
//#else
        out[at] = v;
//#endif
    }
}
