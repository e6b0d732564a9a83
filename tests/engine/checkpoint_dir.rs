//! `hearth make-test-model` on disk: deterministic bytes, and the directory loads through the
//! same memory-mapped path `hearth serve --model-dir` uses.

use burn::tensor::Device;
use hearth::engine::Engine;
use hearth::model::Precision;
use hearth::model::synthetic;
use hearth::native::files::DirSource;
use hearth::native::make_test_model;

use crate::common;

#[test]
fn same_seed_same_bytes_other_seed_other_weights() {
    let preset = synthetic::preset("tiny-gqa-tied").unwrap();
    let tokenizer = synthetic::TokenizerFiles {
        tokenizer_json: vec![],
        tokenizer_config: None,
    };
    let files = |seed| {
        let options = synthetic::Options {
            seed,
            dtype: preset.dtype,
            shards: 1,
            writer: hearth::model::ConfigWriter::Transformers4,
        };
        synthetic::checkpoint_files(&preset, &options, &tokenizer)
    };
    assert_eq!(files(3), files(3));
    let weights = |seed: u64| {
        files(seed)
            .into_iter()
            .find(|(n, _)| n == "model.safetensors")
            .unwrap()
            .1
    };
    assert_ne!(weights(3), weights(4));
}

#[test]
fn written_directory_loads_from_disk() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("make-test-model");
    let _ = std::fs::remove_dir_all(&dir);
    let tokenizer = common::tokenizer_dir().join("tokenizer.json");
    let mut options = make_test_model::MakeTestModelOptions::new(&dir, "tiny-mqa-untied");
    options.tokenizer = Some(tokenizer);
    options.shards = 2;
    make_test_model::run(&options).unwrap();
    assert!(dir.join("model.safetensors.index.json").exists());
    let engine = Engine::load(&DirSource::new(&dir), &Device::flex(), Precision::F32).unwrap();
    assert_eq!(engine.model.config().num_key_value_heads, 1);

    std::fs::remove_file(dir.join("config.json")).unwrap();
    let message = Engine::load(&DirSource::new(&dir), &Device::flex(), Precision::F32)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        message,
        format!("config.json: not found in {}", dir.display())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_preset_lists_the_presets() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("never-written");
    let options = make_test_model::MakeTestModelOptions::new(&dir, "qwen9");
    let message = make_test_model::run(&options).unwrap_err();
    assert!(
        message.contains("tiny-gqa-tied") && message.contains("qwen2-0.5b"),
        "{message}"
    );
    assert!(!dir.exists());
}

#[test]
fn loading_reports_progress_up_to_every_weight_byte() {
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let record = seen.clone();
    let files = common::model_files_with("tiny-mqa-untied", None, 2);
    Engine::load_with_progress(
        &files,
        &Device::flex(),
        Precision::F32,
        Box::new(move |done, total| record.borrow_mut().push((done, total))),
    )
    .unwrap();
    let seen = seen.borrow();
    let (done, total) = *seen.last().unwrap();
    let stored: u64 = files
        .iter()
        .filter(|(name, _)| name.ends_with(".safetensors"))
        .map(|(_, blob)| {
            hearth::model::safetensors::SafeTensors::parse("shard", blob.clone())
                .unwrap()
                .data_len()
        })
        .sum();
    assert_eq!((done, total), (stored, stored));
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "grows with every tensor"
    );
}
