//! `hearth bench`: the figures llama-bench gives, as text and as one JSON object, and refusals
//! of settings it cannot measure.

use std::process::Command;

use crate::common;

/// Runs `hearth bench` on a tiny model in a directory named for the calling test.
fn bench(test: &str, args: &[&str]) -> std::process::Output {
    let dir = common::tiny_model_dir(test);
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["bench", "--backend", "cpu", "--threads", "1"])
        .arg("--model-dir")
        .arg(&dir)
        .args(args)
        .output()
        .unwrap()
}

/// A run small enough for a test.
const SMALL: [&str; 6] = [
    "--prompt-tokens",
    "16",
    "--gen-tokens",
    "8",
    "--repeat",
    "2",
];

#[test]
fn bench_reports_every_figure_as_json() {
    let out = bench("bench-json", &[&SMALL[..], &["--json"]].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for key in [
        "prefill_tok_s",
        "decode_tok_s",
        "ttft_ms",
        "load_ms",
        "peak_rss_mb",
        "rss_mb",
        "weights_mb",
    ] {
        let value = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {report}"));
        assert!(value > 0.0, "{key} = {value}");
    }
    assert_eq!(report["threads"], 1);
    assert_eq!(report["gen_tokens"], 8);
    assert_eq!(report["dtype"], "f32");
}

/// Every format `--dtype` names runs, and the quantized ones hold fewer bytes than f32.
#[test]
fn bench_runs_every_dtype() {
    let weights = |dtype: &str| {
        let out = bench(
            &format!("bench-{dtype}"),
            &[&SMALL[..], &["--json", "--dtype", dtype]].concat(),
        );
        assert!(
            out.status.success(),
            "{dtype}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(report["dtype"], dtype);
        report["weights_mb"].as_f64().expect("weights_mb")
    };
    let f32 = weights("f32");
    for (dtype, ratio) in [("f16", 0.5), ("bf16", 0.5), ("q8", 0.27), ("q4", 0.27)] {
        let mb = weights(dtype);
        assert!(
            mb <= f32 * ratio,
            "{dtype}: {mb} MB of weights against f32's {f32}"
        );
    }
}

#[test]
fn bench_prints_a_readable_report() {
    let out = bench("bench-text", &SMALL);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for line in ["load", "prefill", "decode", "peak RSS"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(line)),
            "no {line} line:\n{stdout}"
        );
    }
}

#[test]
fn bench_refuses_what_it_cannot_measure() {
    let out = bench("bench-refusals", &["--gen-tokens", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1"));
    let out = bench("bench-refusals", &["--prompt-tokens", "4096"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exceed the model's context of 2048"));
}

/// With no --backend, a machine whose only wgpu adapter is a software one (lavapipe in CI)
/// runs on the CPU network, and says why.
#[test]
fn a_software_adapter_is_not_the_default() {
    let (_, info) =
        hearth::backend::wgpu().expect("a wgpu adapter (CI installs mesa-vulkan-drivers)");
    if !info.software {
        eprintln!("skipped: {} is a real GPU", info.adapter);
        return;
    }
    let dir = common::tiny_model_dir("bench-default-device");
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["bench", "--threads", "1", "--json"])
        .args(SMALL)
        .arg("--model-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let device = report["device"].as_str().unwrap_or_default();
    assert!(device.starts_with("cpu ("), "{report}");
    assert!(
        stderr.contains("software one; running on the CPU"),
        "{stderr}"
    );
}
