//! The CPU kernels' narrower formats against the f32 path (itself checked against
//! transformers): teacher-forced greedy agreement over 64 tokens, and the largest logit error.

use burn::tensor::Device;
use hearth::model::Precision;

use crate::common;
use crate::parity::{golden_conversation, read_row};

const TOKENS: usize = 64;

pub struct Agreement {
    /// Steps where the format's greedy token is f32's, of [`TOKENS`].
    pub rate: f64,
    pub max_logit_error: f64,
}

impl Agreement {
    /// Asserts the floor and the bound, after printing what was measured.
    pub fn check(&self, label: &str, floor: f64, bound: f64) {
        eprintln!(
            "{label}: greedy agreement with f32 {:.1}% over {TOKENS} tokens, max logit error {:.3e}",
            self.rate * 100.0,
            self.max_logit_error
        );
        assert!(self.rate >= floor, "{label}: agreement {}", self.rate);
        assert!(
            self.max_logit_error <= bound,
            "{label}: logit error {}",
            self.max_logit_error
        );
    }
}

/// Runs f32 greedily for [`TOKENS`] tokens from the golden conversation, then feeds the same
/// tokens to `precision` and compares each step's argmax and logits.
pub fn agreement(preset: &str, precision: Precision) -> Agreement {
    let load = |p| common::load(preset, &Device::flex(), p);
    agreement_with(&load(Precision::F32), &load(precision))
}

/// [`agreement`] of any `candidate` engine with a `reference` one.
pub fn agreement_with(
    reference: &hearth::engine::Engine,
    candidate: &hearth::engine::Engine,
) -> Agreement {
    let prompt = reference
        .format
        .prompt_ids(&golden_conversation())
        .expect("template");
    let steps = |engine: &hearth::engine::Engine, forced: Option<&[u32]>| {
        let mut cache = engine.model.new_cache(prompt.len() + TOKENS);
        let mut row = read_row(engine.model.forward(&prompt, &mut cache));
        let mut rows = Vec::new();
        for step in 0..TOKENS {
            let id = forced.map_or_else(|| common::argmax(&row), |ids| ids[step]);
            rows.push((common::argmax(&row), row));
            row = read_row(engine.model.forward(&[id], &mut cache));
        }
        rows
    };
    let expected = steps(reference, None);
    let ids: Vec<u32> = expected.iter().map(|(id, _)| *id).collect();
    let got = steps(candidate, Some(&ids));
    let same = expected
        .iter()
        .zip(&got)
        .filter(|(a, b)| a.0 == b.0)
        .count();
    let max_logit_error = expected
        .iter()
        .zip(&got)
        .flat_map(|((_, a), (_, b))| a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64))
        .fold(0.0, f64::max);
    Agreement {
        rate: same as f64 / TOKENS as f64,
        max_logit_error,
    }
}

/// Each narrower format's floor under greedy agreement and bound on logit error, against f32.
pub const FLOORS: [(Precision, f64, f64); 4] = [
    (Precision::F16, 0.95, 0.05),
    (Precision::BF16, 0.9, 0.2),
    (Precision::Q8, 0.85, 0.1),
    (Precision::Q4, 0.3, 0.6),
];

/// Floors under what was measured (tied / untied: f16 and bf16 100%, q8 92% / 94%, q4 52% /
/// 42%, max logit errors 0.024 / 0.034 in q8 and 0.28 / 0.36 in q4; GGUF Q4_0 of the Llama
/// and Qwen3 models down to 34% since prompts, too, multiply an int8 input). The test models' random
/// weights give nearly flat logits, so q4's rounding flips many near-ties; a kernel or
/// quantizer bug drops the agreement to chance, far below these.
#[test]
fn narrower_formats_stay_close_to_f32() {
    for preset in ["tiny-gqa-tied", "tiny-mqa-untied"] {
        for (precision, floor, bound) in FLOORS {
            agreement(preset, precision).check(&format!("{preset} {precision}"), floor, bound);
        }
    }
}
