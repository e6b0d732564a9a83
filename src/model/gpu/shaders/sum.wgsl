// The sum of every thread's `v` over the workgroup, returned to all of them.
var<workgroup> sums: array<f32, WG>;
fn workgroup_sum(v: f32, lid: u32) -> f32 {
    sums[lid] = v;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if lid < k {
            sums[lid] += sums[lid + k];
        }
        workgroupBarrier();
    }
    let total = sums[0];
    // Before any thread writes `sums` again.
    workgroupBarrier();
    return total;
}
