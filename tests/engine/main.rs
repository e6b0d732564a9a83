//! The engine's integration tests, in one binary so burn is linked once.

mod common;
mod generation;
mod load_errors;
mod parity;
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

/// wgpu on whatever adapter the machine has (Mesa's lavapipe in CI).
#[test]
fn wgpu_matches_transformers() {
    let device = hearth::backend::wgpu().expect("a wgpu adapter (CI installs mesa-vulkan-drivers)");
    for preset in ["tiny-gqa-tied", "tiny-mqa-untied"] {
        parity::check(preset, &device, 1e-3);
    }
}
