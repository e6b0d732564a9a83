// What changes per forward pass: how many tokens it runs, the position of the first, and the
// positions the sequence's cache holds.
struct Step {
    n: u32,
    start: u32,
    cap: u32,
    pad: u32,
}
@group(0) @binding(0) var<uniform> step: Step;

// Threads per workgroup.
const WG: u32 = {{WG}}u;
// Each workgroup's id as one number: grids wider than 32768 workgroups fold into y.
fn flat(wid: vec3<u32>) -> u32 {
    return wid.x + wid.y * 32768u;
}
