//! hearth's GPU network (its own kernels, on whatever wgpu adapter the machine has: lavapipe
//! in CI) against the CPU network, format by format, and what a decoded token costs it.

use burn::tensor::Device;
use hearth::model::gpu::{GpuLogits, GpuNetwork};
use hearth::model::{Network, Precision, Weights};

use crate::common;
use crate::parity::read_row;
use crate::quantized::{FLOORS, agreement_with};

fn gpu() -> Device {
    hearth::backend::wgpu()
        .expect("a wgpu adapter (CI installs mesa-vulkan-drivers)")
        .0
}

const PRESETS: [&str; 4] = [
    "tiny-gqa-tied",
    "tiny-mqa-untied",
    "tiny-qwen3",
    "tiny-llama",
];

/// The float formats hold the same weight values on both networks, which both multiply in
/// f32 (bf16 against a bf16 copy of the input): every greedy token equal, logits within
/// rounding. For bf16 that rounding includes the input's: where the networks' f32 values
/// differ by an ulp, the copy may differ by a bf16 step.
#[test]
fn float_formats_match_the_cpu_network() {
    let device = gpu();
    for preset in PRESETS {
        for (precision, bound) in [
            (Precision::F32, 1e-5),
            (Precision::F16, 1e-5),
            (Precision::BF16, 5e-3),
        ] {
            let cpu = common::load(preset, &Device::flex(), precision);
            let gpu = common::load(preset, &device, precision);
            assert!(matches!(gpu.model, Network::Gpu(_)));
            let a = agreement_with(&cpu, &gpu);
            eprintln!(
                "{preset} {precision} on the GPU: greedy agreement with the CPU {:.1}%, max logit error {:.3e}",
                a.rate * 100.0,
                a.max_logit_error
            );
            assert_eq!(a.rate, 1.0, "{preset} {precision}");
            assert!(
                a.max_logit_error <= bound,
                "{preset} {precision}: {}",
                a.max_logit_error
            );
        }
    }
}

/// q8 and q4 on the GPU hold the CPU's blocks (f32 activations against them, where the CPU
/// quantizes its input too): against f32 they agree at least as well as the CPU's floors
/// (tests/engine/quantized.rs).
#[test]
fn quantized_formats_agree_with_f32_as_on_the_cpu() {
    let device = gpu();
    for preset in ["tiny-gqa-tied", "tiny-mqa-untied"] {
        let reference = common::load(preset, &Device::flex(), Precision::F32);
        for (precision, floor, bound) in FLOORS
            .into_iter()
            .filter(|f| matches!(f.0, Precision::Q8 | Precision::Q4))
        {
            let gpu = common::load(preset, &device, precision);
            agreement_with(&reference, &gpu).check(
                &format!("{preset} {precision} on the GPU"),
                floor,
                bound,
            );
        }
    }
}

/// A prompt longer than one pass (128 tokens) runs in several and still equals the CPU.
#[test]
fn long_prompts_run_in_chunks() {
    let device = gpu();
    let cpu = common::load("tiny-qwen3", &Device::flex(), Precision::F32);
    let gpu = common::load("tiny-qwen3", &device, Precision::F32);
    let prompt: Vec<u32> = (0..300).map(|i| (i * 7919) % 150000).collect();
    let rows = [&cpu, &gpu].map(|e| {
        let mut cache = e.model.new_cache(prompt.len() + 1);
        read_row(e.model.forward(&prompt, &mut cache))
    });
    let err = rows[0]
        .iter()
        .zip(&rows[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-4, "logits differ by {err}");
}

/// After the first token, a greedy decode step records 8 launches per layer and 5 for the
/// head, submits once, reads back the 4-byte id and creates no buffer.
#[test]
fn a_decoded_token_costs_one_submission_and_four_bytes() {
    let device = gpu();
    // A device value of its own, so other tests' work is not counted.
    let own = hearth::backend::gpu_of(&device).unwrap().limited(u64::MAX);
    let files = common::model_files("tiny-gqa-tied");
    let engine = common::load("tiny-gqa-tied", &Device::flex(), Precision::F32);
    let weights = Weights::open(&files).unwrap();
    let config = engine.model.config().clone();
    let layers = config.num_hidden_layers as u64;
    let model = GpuNetwork::load(config, &weights, own, Precision::Q8).unwrap();
    let mut cache = model.new_cache(64);
    let argmax = |l: GpuLogits| pollster::block_on(l.argmax()).unwrap();
    let mut id = argmax(model.forward(&[1, 2, 3, 4], &mut cache));
    id = argmax(model.forward(&[id], &mut cache));
    let before = model.counts();
    let tokens = 16;
    for _ in 0..tokens {
        id = argmax(model.forward(&[id], &mut cache));
    }
    let per_token = model.counts().since(before);
    assert_eq!(
        per_token.dispatches,
        tokens * (8 * layers + 5),
        "{per_token:?}"
    );
    assert_eq!(per_token.submissions, tokens, "{per_token:?}");
    assert_eq!(per_token.readback_bytes, tokens * 4, "{per_token:?}");
    assert_eq!(per_token.allocations, 0, "{per_token:?}");
}

/// n > 1 answers share the prompt's logits: each reads them from the host, not from buffers
/// a sibling's decoding overwrote; sampling reads the row.
#[test]
fn stale_gpu_logits_are_refused_not_misread() {
    let device = gpu();
    let engine = common::load("tiny-gqa-tied", &device, Precision::F32);
    let mut cache = engine.model.new_cache(8);
    let first = engine.model.forward(&[1, 2, 3], &mut cache);
    let kept = first.clone();
    let row = read_row(first);
    assert_eq!(row.len(), engine.model.config().vocab_size);
    let _ = engine.model.forward(&[4], &mut cache);
    let err = pollster::block_on(kept.into_vec()).unwrap_err();
    assert!(matches!(err, hearth::model::DeviceError::Stale), "{err}");
}

/// The products' reductions through workgroup memory (every adapter, WebGPU without
/// `subgroups` included) agree with the CPU as the subgroup ones do, in f32 and q4.
#[test]
fn workgroup_memory_reductions_match_the_cpu_network() {
    let device = gpu();
    let plain = hearth::backend::gpu_of(&device)
        .unwrap()
        .without_subgroups();
    for preset in PRESETS {
        let cpu = common::load(preset, &Device::flex(), Precision::F32);
        let weights = Weights::open(&common::model_files(preset)).unwrap();
        for (precision, floor) in [(Precision::F32, 1.0), (Precision::Q4, 0.35)] {
            let mut on_gpu = common::load(preset, &Device::flex(), Precision::F32);
            let config = cpu.model.config().clone();
            let network = GpuNetwork::load(config, &weights, plain.clone(), precision);
            on_gpu.model = Network::Gpu(network.unwrap());
            let a = agreement_with(&cpu, &on_gpu);
            eprintln!(
                "{preset} {precision} without subgroups: greedy agreement with the CPU's f32 {:.1}%, max logit error {:.3e}",
                a.rate * 100.0,
                a.max_logit_error
            );
            assert!(a.rate >= floor, "{preset} {precision}: {}", a.rate);
            if precision == Precision::F32 {
                assert!(a.max_logit_error <= 1e-4, "{preset}: {}", a.max_logit_error);
            }
        }
    }
}
