//! The engine's integration tests, in one binary so burn is linked once.

mod batching;
mod bench_cli;
mod chat_cli;
mod checkpoint_dir;
mod common;
mod contract_cases;
mod docs;
mod families;
mod faults;
mod fuzz;
mod generation;
mod gguf;
mod gpu;
mod hub;
mod load;
mod load_errors;
mod openai_client;
mod parity;
mod quantized;
mod served;
mod server;
mod text;

use burn::tensor::Device;

#[test]
fn flex_matches_transformers_tied_gqa() {
    parity::check("tiny-gqa-tied", &Device::flex(), 1e-4);
}

#[test]
fn flex_matches_transformers_untied_mqa() {
    parity::check("tiny-mqa-untied", &Device::flex(), 1e-4);
}

#[test]
fn flex_matches_transformers_qwen3() {
    parity::check("tiny-qwen3", &Device::flex(), 1e-4);
}

#[test]
fn flex_matches_transformers_llama() {
    parity::check("tiny-llama", &Device::flex(), 1e-4);
}

/// The embedding and lm_head in row blocks of at most 1 MiB (tens of blocks each) give the
/// same logits and tokens as transformers.
#[test]
fn flex_matches_transformers_with_split_vocabulary() {
    for preset in ["tiny-gqa-tied", "tiny-mqa-untied"] {
        parity::check_within(preset, &Device::flex(), 1e-4, Some(1 << 20));
    }
}

/// wgpu on whatever adapter the machine has (Mesa's lavapipe in CI).
#[test]
fn wgpu_matches_transformers() {
    let (device, _) =
        hearth::backend::wgpu().expect("a wgpu adapter (CI installs mesa-vulkan-drivers)");
    for preset in [
        "tiny-gqa-tied",
        "tiny-mqa-untied",
        "tiny-qwen3",
        "tiny-llama",
    ] {
        parity::check(preset, &device, 1e-3);
    }
    // The vocabulary in 1 MiB blocks, as on an adapter whose buffers are too small for it.
    parity::check_within("tiny-mqa-untied", &device, 1e-3, Some(1 << 20));
    // hearth's kernels widen f16 and bf16 in registers, so every adapter runs them.
    for dtype in [
        hearth::model::Precision::F16,
        hearth::model::Precision::BF16,
    ] {
        let err = parity::prefill_error("tiny-mqa-untied", &device, dtype);
        eprintln!("tiny-mqa-untied {dtype:?} on wgpu: prefill logit error {err:.3e}");
        assert!(err < 2e-2, "{dtype:?} prefill logits differ by {err}");
    }
}

/// Half precision runs where the backend has it: the logits stay near transformers' f32 ones.
#[test]
fn flex_runs_half_precision() {
    for dtype in [
        hearth::model::Precision::F16,
        hearth::model::Precision::BF16,
    ] {
        let err = parity::prefill_error("tiny-mqa-untied", &Device::flex(), dtype);
        eprintln!("tiny-mqa-untied {dtype:?} on flex: prefill logit error {err:.3e}");
        assert!(err < 2e-2, "{dtype:?}: prefill logits differ by {err}");
    }
}
