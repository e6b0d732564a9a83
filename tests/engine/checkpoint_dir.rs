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

/// Weights files read a tensor at a time (as the browser reads the page's fetched files):
/// the same model as the whole files in memory, and no read larger than one tensor.
#[test]
fn weights_read_a_tensor_at_a_time_load_the_same_model() {
    use std::collections::HashMap;
    use std::ops::Range;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use hearth::model::safetensors::{Blob, Contents};
    use hearth::model::{FileSource, LoadError};

    struct Ranged {
        file: Blob,
        largest: Arc<AtomicUsize>,
        reads: Arc<Mutex<Vec<Range<usize>>>>,
    }
    impl Contents for Ranged {
        fn len(&self) -> usize {
            (*self.file).as_ref().len()
        }
        fn read(&self, range: Range<usize>) -> (Blob, Range<usize>) {
            self.largest.fetch_max(range.len(), Ordering::Relaxed);
            self.reads.lock().unwrap().push(range.clone());
            let copy = (*self.file).as_ref()[range].to_vec();
            let len = copy.len();
            (Arc::new(copy), 0..len)
        }
    }
    struct Source {
        files: HashMap<String, Blob>,
        largest: Arc<AtomicUsize>,
        reads: Arc<Mutex<Vec<Range<usize>>>>,
    }
    impl FileSource for Source {
        fn location(&self) -> String {
            "ranged files".into()
        }
        fn read(&self, file: &str) -> Result<Option<Blob>, LoadError> {
            assert!(!file.ends_with(".safetensors"), "{file} read whole");
            Ok(self.files.get(file).cloned())
        }
        fn contents(&self, file: &str) -> Result<Box<dyn Contents>, LoadError> {
            Ok(Box::new(Ranged {
                file: self
                    .files
                    .get(file)
                    .cloned()
                    .ok_or_else(|| self.missing(file))?,
                largest: self.largest.clone(),
                reads: self.reads.clone(),
            }))
        }
    }

    let f32 = Some(hearth::model::safetensors::FileDType::F32);
    let files = common::model_files_with("tiny-mqa-untied", f32, 2);
    let source = Source {
        files: files.clone(),
        largest: Arc::default(),
        reads: Arc::default(),
    };
    let device = Device::flex();
    let streamed = Engine::load(&source, &device, Precision::F32).unwrap();
    let resident = Engine::load(&files, &device, Precision::F32).unwrap();
    let config = resident.model.config();
    // The largest tensor: the embedding (and the untied lm_head), vocabulary x hidden in f32.
    let largest = config.vocab_size * config.hidden_size * 4;
    assert_eq!(source.largest.load(Ordering::Relaxed), largest);
    let reads = source.reads.lock().unwrap();
    let tensors = hearth::model::architecture::tensors(config).len();
    // Per shard two header reads (its length, its JSON), then one read per tensor.
    assert_eq!(reads.len(), 2 * 2 + tensors, "{reads:?}");

    let prompt = [9707, 11, 1879, 0, 151644];
    let logits = |engine: &Engine| {
        let mut cache = engine.model.new_cache(prompt.len());
        crate::parity::read_row(engine.model.forward(&prompt, &mut cache))
    };
    assert_eq!(logits(&streamed), logits(&resident));
}
