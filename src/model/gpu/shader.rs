//! The kernels' WGSL, specialised per model: shapes become constants and `//#if` sections are
//! kept or dropped, so each variant binds only what it reads. One source serves every wgpu
//! backend: naga translates it to SPIR-V, MSL or HLSL natively, and browsers take it as is.

use super::context::{Access, Signature};
use super::matrix::Format;

const COMMON: &str = include_str!("shaders/common.wgsl");
const SCALES: &str = include_str!("shaders/scales.wgsl");
const SUM: &str = include_str!("shaders/sum.wgsl");

/// A kernel's specialised source and the bindings it takes.
pub struct Source {
    pub name: &'static str,
    pub text: String,
    pub signature: Signature,
}

struct Template<'a> {
    name: &'static str,
    body: &'static str,
    format: Option<Format>,
    values: Vec<(&'a str, String)>,
    flags: Vec<&'a str>,
    /// Bindings besides the step uniform (0) and, for a weight format, its buffers.
    bindings: Vec<(u32, Access)>,
    /// Threads per workgroup.
    workgroup: usize,
}

impl Template<'_> {
    fn render(self) -> Source {
        let mut text = String::new();
        // Browsers require the extension enabled; naga takes subgroup operations without it
        // and refuses the directive.
        if cfg!(target_family = "wasm") && self.flags.contains(&"SUBGROUP") {
            text.push_str("enable subgroups;\n");
        }
        text.push_str(COMMON);
        let mut signature = vec![(0, Access::Uniform)];
        if let Some(format) = self.format {
            text.push_str(format_source(format));
            signature.push((1, Access::Read));
            if format.has_scales() {
                text.push_str(SCALES);
                signature.push((2, Access::Read));
            }
        }
        let body = keep_sections(self.body, &self.flags);
        if body.contains("workgroup_sum(") {
            text.push_str(SUM);
        }
        text.push_str(&body);
        let wg = self.workgroup.to_string();
        for (key, value) in self.values.iter().chain([&("WG", wg)]) {
            text = text.replace(&format!("{{{{{key}}}}}"), value);
        }
        debug_assert!(!text.contains("{{"), "{}: a value is missing", self.name);
        signature.extend(self.bindings);
        signature.sort_unstable();
        Source {
            name: self.name,
            text,
            signature,
        }
    }
}

fn format_source(format: Format) -> &'static str {
    match format {
        Format::F32 => include_str!("shaders/f32.wgsl"),
        Format::F16 => include_str!("shaders/f16.wgsl"),
        Format::BF16 => include_str!("shaders/bf16.wgsl"),
        Format::Q8 => include_str!("shaders/q8.wgsl"),
        Format::Q4 => include_str!("shaders/q4.wgsl"),
    }
}

/// Drops the lines of `//#if FLAG` sections whose flag is not in `flags` (and the `//#else`
/// halves of those that are).
fn keep_sections(body: &str, flags: &[&str]) -> String {
    let mut out = String::with_capacity(body.len());
    // One entry per open section: whether its current half is kept.
    let mut open: Vec<bool> = Vec::new();
    for line in body.lines() {
        let directive = line.trim();
        if let Some(flag) = directive.strip_prefix("//#if ") {
            open.push(flags.contains(&flag.trim()));
        } else if directive == "//#else" {
            let kept = open.last_mut().expect("//#else inside //#if");
            *kept = !*kept;
        } else if directive == "//#endif" {
            open.pop().expect("//#endif closes an //#if");
        } else if open.iter().all(|&kept| kept) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A float as a WGSL literal.
fn float(x: f64) -> String {
    format!("{:e}", x as f32)
}

/// Where a matrix product's rows go, and what is folded into them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Epilogue {
    pub bias: bool,
    /// Added to what `out` holds (the residual stream) instead of replacing it.
    pub residual: bool,
    /// The matrix stacks gate over up: the output is `silu(gate) * up`.
    pub pair: bool,
}

/// Bindings: 3 input rows, 4 output rows, 5 bias. `subgroup`: the adapter's one subgroup
/// width, when it has subgroups of one width only.
pub fn matmul(
    format: Format,
    [rows, cols]: [usize; 2],
    (out_width, offset): (usize, usize),
    tile: usize,
    epilogue: Epilogue,
    subgroup: Option<usize>,
) -> Source {
    let tpr = threads_per_row(cols, subgroup);
    let mut flags = Vec::new();
    match subgroup {
        Some(_) => flags.push("SUBGROUP"),
        None if tpr > 1 => flags.push("REDUCE"),
        None => {}
    }
    let mut bindings = vec![(3, Access::Read), (4, Access::Write)];
    if epilogue.bias {
        flags.push("BIAS");
        bindings.push((5, Access::Read));
    }
    if epilogue.residual {
        flags.push("RESIDUAL");
    }
    if epilogue.pair {
        flags.push("PAIR");
    }
    if format == Format::BF16 {
        // The CPU kernels multiply bf16 rows with a bf16 copy of the input: so do we.
        flags.push("BF16_INPUT");
    }
    Template {
        name: "matmul",
        body: include_str!("shaders/matmul.wgsl"),
        format: Some(format),
        values: vec![
            ("COLS", cols.to_string()),
            ("ROWS", rows.to_string()),
            ("OUT_WIDTH", out_width.to_string()),
            ("OFFSET", offset.to_string()),
            ("TILE", tile.to_string()),
            ("TPR", tpr.to_string()),
            ("SCALES_PER_ROW", format.scales_per_row(cols).to_string()),
        ],
        flags,
        bindings,
        workgroup: MATMUL_WORKGROUP,
    }
    .render()
}

/// Threads in a matrix-product workgroup: large, since a software adapter pays per workgroup.
const MATMUL_WORKGROUP: usize = 256;

/// Threads sharing one row of a `cols`-wide product: one subgroup where the adapter has
/// them; else enough that each reads about 32 vectors (short rows go to one thread each and
/// need no reduction), at most 64.
pub fn threads_per_row(cols: usize, subgroup: Option<usize>) -> usize {
    if let Some(width) = subgroup {
        return width;
    }
    let per_thread = (cols / 4 / 32).max(1);
    (1 << per_thread.ilog2()).min(64)
}

/// Rows one matrix-product workgroup computes.
pub fn rows_per_workgroup(cols: usize, subgroup: Option<usize>) -> usize {
    MATMUL_WORKGROUP / threads_per_row(cols, subgroup)
}

/// Bindings: 4 output rows, 6 tables (the ids).
pub fn embed(format: Format, row0: usize, [rows, cols]: [usize; 2]) -> Source {
    Template {
        name: "embed",
        body: include_str!("shaders/embed.wgsl"),
        format: Some(format),
        values: vec![
            ("COLS", cols.to_string()),
            ("ROW0", row0.to_string()),
            ("ROWS", rows.to_string()),
            ("SCALES_PER_ROW", format.scales_per_row(cols).to_string()),
        ],
        flags: vec![],
        bindings: vec![(4, Access::Write), (6, Access::Read)],
        workgroup: 64,
    }
    .render()
}

/// Bindings: 1 rows, 2 weight, 3 output.
pub fn rms_norm(width: usize, eps: f64, last: bool) -> Source {
    Template {
        name: "rms_norm",
        body: include_str!("shaders/rms_norm.wgsl"),
        format: None,
        values: vec![("H", width.to_string()), ("EPS", float(eps))],
        flags: if last { vec!["LAST"] } else { vec![] },
        bindings: vec![(1, Access::Read), (2, Access::Read), (3, Access::Write)],
        workgroup: 64,
    }
    .render()
}

/// The attention shape the rope and attention kernels share.
#[derive(Clone, Copy)]
pub struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl Heads {
    fn values(self) -> Vec<(&'static str, String)> {
        vec![
            ("D", self.head_dim.to_string()),
            ("QH", self.heads.to_string()),
            ("KVH", self.kv_heads.to_string()),
        ]
    }
}

/// Bindings: 1 q/k/v rows, 2 keys, 3 values, 6 tables; with `qk_norm`, 4 and 5 the norms.
pub fn rope(heads: Heads, chunk: usize, qk_norm: Option<f64>) -> Source {
    let mut values = heads.values();
    values.push(("CHUNK", chunk.to_string()));
    let mut bindings = vec![
        (1, Access::Write),
        (2, Access::Write),
        (3, Access::Write),
        (6, Access::Read),
    ];
    let mut flags = vec![];
    if let Some(eps) = qk_norm {
        values.push(("EPS", float(eps)));
        bindings.extend([(4, Access::Read), (5, Access::Read)]);
        flags.push("QK_NORM");
    }
    Template {
        name: "rope",
        body: include_str!("shaders/rope.wgsl"),
        format: None,
        values,
        flags,
        bindings,
        workgroup: 64,
    }
    .render()
}

/// Bindings: 1 q/k/v rows, 2 keys, 3 values, 4 output.
pub fn attention(heads: Heads) -> Source {
    Template {
        name: "attention",
        body: include_str!("shaders/attention.wgsl"),
        format: None,
        values: heads.values(),
        flags: vec![],
        bindings: vec![
            (1, Access::Read),
            (2, Access::Read),
            (3, Access::Read),
            (4, Access::Write),
        ],
        workgroup: 64,
    }
    .render()
}

/// Bindings: 1 logits, 2 partial results, 3 the id. Entry points `partial` and `finish`.
pub fn argmax(vocab: usize) -> Source {
    Template {
        name: "argmax",
        body: include_str!("shaders/argmax.wgsl"),
        format: None,
        values: vec![("V", vocab.to_string())],
        flags: vec![],
        bindings: vec![(1, Access::Read), (2, Access::Write), (3, Access::Write)],
        workgroup: 64,
    }
    .render()
}

/// Workgroups in the argmax's first step (argmax.wgsl's PARTS).
pub const ARGMAX_PARTS: u32 = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_follow_their_flags() {
        let body = "a\n//#if X\nb\n//#else\nc\n//#endif\n//#if Y\nd\n//#endif\ne\n";
        assert_eq!(keep_sections(body, &["X"]), "a\nb\ne\n");
        assert_eq!(keep_sections(body, &["Y"]), "a\nc\nd\ne\n");
    }

    #[test]
    fn floats_are_wgsl_literals() {
        assert_eq!(float(1e-6), "1e-6");
        assert_eq!(float(0.5), "5e-1");
    }
}
