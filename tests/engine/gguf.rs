//! GGUF files written by the PyPI `gguf` package's own writer (scripts/make-test-ggufs.sh,
//! tests/reference/make_gguf.py) from the test models: they answer as the safetensors
//! checkpoints do, and broken files are refused with the file, the tensor and the fault.

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::Device;
use hearth::engine::Engine;
use hearth::model::Precision;
use hearth::model::safetensors::Blob;

use crate::common;
use crate::parity::{golden_conversation, read_row};
use crate::quantized::{FLOORS, agreement_with};

const PRESETS: [&str; 3] = ["tiny-gqa-tied", "tiny-qwen3", "tiny-llama"];

fn path(preset: &str, ty: &str) -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME");
    PathBuf::from(home).join(format!(".cache/hearth/test-ggufs/{preset}-{ty}.gguf"))
}

fn bytes(preset: &str, ty: &str) -> Vec<u8> {
    let path = path(preset, ty);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run `bash scripts/make-test-ggufs.sh` first",
            path.display()
        )
    })
}

fn load(name: &str, bytes: Vec<u8>, precision: Option<Precision>) -> Result<Engine, String> {
    let blob: Blob = Arc::new(bytes);
    Engine::load_gguf(name, blob, &Device::flex(), precision, Box::new(|_, _| {}))
        .map_err(|e| e.to_string())
}

fn greedy(engine: &Engine, n: usize) -> (Vec<u32>, Vec<u32>) {
    let prompt = engine.format.prompt_ids(&golden_conversation()).unwrap();
    let mut cache = engine.model.new_cache(prompt.len() + n);
    let mut logits = engine.model.forward(&prompt, &mut cache);
    let mut ids = Vec::new();
    while ids.len() < n {
        let id = common::argmax(&read_row(logits));
        ids.push(id);
        logits = engine.model.forward(&[id], &mut cache);
    }
    (prompt, ids)
}

/// F32: the same prompt ids (tokenizer and template from the metadata) and the same greedy
/// answer as the safetensors checkpoint.
#[test]
fn f32_gguf_answers_as_the_checkpoint_does() {
    for preset in PRESETS {
        let gguf = load("model.gguf", bytes(preset, "F32"), None).unwrap();
        assert_eq!(gguf.model.precision(), "f32", "{preset}");
        let reference = common::load(preset, &Device::flex(), Precision::F32);
        assert_eq!(greedy(&gguf, 32), greedy(&reference, 32), "{preset}");
    }
}

/// Q8_0 and Q4_0 run as they are stored (hearth's q8/q4 blocks), at least at the floors of
/// quantizing at load.
#[test]
fn quantized_ggufs_run_in_place_above_the_floors() {
    for preset in PRESETS {
        let reference = common::load(preset, &Device::flex(), Precision::F32);
        for (ty, precision) in [("Q8_0", Precision::Q8), ("Q4_0", Precision::Q4)] {
            let floor = FLOORS.iter().find(|f| f.0 == precision).unwrap().1;
            let gguf = load("model.gguf", bytes(preset, ty), None).unwrap();
            assert_eq!(gguf.model.precision(), precision.name(), "{preset} {ty}");
            let a = agreement_with(&reference, &gguf);
            eprintln!(
                "{preset} {ty}: agreement {:.2}, max logit error {:.3}",
                a.rate, a.max_logit_error
            );
            assert!(a.rate >= floor, "{preset} {ty}: agreement {}", a.rate);
        }
        // Asked for f32, the blocks are dequantized instead.
        let widened = load("model.gguf", bytes(preset, "Q8_0"), Some(Precision::F32)).unwrap();
        assert_eq!(widened.model.precision(), "f32");
    }
}

fn refusal(bytes: Vec<u8>) -> String {
    match load("broken.gguf", bytes, None) {
        Ok(_) => panic!("a broken file loaded"),
        Err(e) => e,
    }
}

#[test]
fn broken_ggufs_are_refused_with_file_tensor_and_fault() {
    let good = bytes("tiny-gqa-tied", "Q8_0");
    let message = refusal(good[..good.len() / 2].to_vec());
    assert!(
        message.starts_with("broken.gguf: tensor ") && message.contains("outside the file"),
        "{message}"
    );
    let message = refusal(good[..1000].to_vec());
    assert!(
        message.starts_with("broken.gguf: truncated at byte 1000"),
        "{message}"
    );
    let mut magic = good.clone();
    magic[..4].copy_from_slice(b"GGML");
    assert_eq!(
        refusal(magic),
        "broken.gguf: not a GGUF file (magic \"GGML\", expected \"GGUF\")"
    );
    let renamed = replace(&good, b"blk.1.ffn_down.weight", b"blk.1.ffn_dawn.weight");
    assert_eq!(
        refusal(renamed),
        "broken.gguf: tensor blk.1.ffn_down.weight is missing"
    );
    // The type id of the first tensor info (after its name, dimension count and dims).
    let name = b"token_embd.weight";
    let at = find(&good, name) + name.len();
    let dims = u32::from_le_bytes(good[at..at + 4].try_into().unwrap()) as usize;
    let type_at = at + 4 + 8 * dims;
    let mut unknown = good.clone();
    unknown[type_at..type_at + 4].copy_from_slice(&42u32.to_le_bytes());
    assert_eq!(
        refusal(unknown),
        "broken.gguf: unknown tensor type 42 for tensor token_embd.weight"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("present")
}

fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = find(bytes, from);
    out[at..at + to.len()].copy_from_slice(to);
    out
}

/// `hearth make-test-model --format gguf`: the same weights as the safetensors checkpoint,
/// so an F32 file answers alike.
#[test]
fn hearth_written_f32_gguf_answers_as_the_checkpoint_does() {
    use hearth::model::gguf::export::{FileType, test_model};
    // Llama with `attention_bias` too: its q/k biases are permuted with their rows.
    for (preset, bias) in [
        ("tiny-qwen3", false),
        ("tiny-llama", false),
        ("tiny-llama", true),
    ] {
        let mut p = hearth::model::synthetic::preset(preset).unwrap();
        (p.config.qkv_bias, p.config.o_bias) = (p.config.qkv_bias || bias, bias);
        let tokenizer = common::tokenizer_files(p.vocabulary);
        let f32 = FileType::parse("F32").unwrap();
        let gguf = load(
            "ours.gguf",
            test_model(&p, 0, f32, &tokenizer).unwrap(),
            None,
        )
        .unwrap();
        let options = hearth::model::synthetic::Options {
            seed: 0,
            dtype: p.dtype,
            shards: 1,
            writer: hearth::model::ConfigWriter::Transformers5,
        };
        let files = common::written(&p, &options);
        let reference = Engine::load(&files, &Device::flex(), Precision::F32).unwrap();
        assert_eq!(reference.model.config().o_bias, bias);
        assert_eq!(
            greedy(&gguf, 16),
            greedy(&reference, 16),
            "{preset} bias {bias}"
        );
    }
}

/// The k-quants on a shape whose rows are whole 256-value super-blocks: a Q4_K_M file (Q4_K
/// and Q6_K) widened to f16 at load, or requantized to q8, stays above q4's floor.
#[test]
fn k_quant_gguf_loads_widened_or_requantized() {
    use hearth::model::gguf::export::{FileType, test_model};
    use hearth::model::synthetic::{self, Options};
    let mut preset = synthetic::preset("tiny-qwen3").unwrap();
    preset.config.hidden_size = 256;
    preset.config.intermediate_size = 512;
    preset.config.head_dim = 64;
    let tokenizer = common::tokenizer_files(preset.vocabulary);
    let file = test_model(&preset, 0, FileType::parse("Q4_K_M").unwrap(), &tokenizer).unwrap();
    let options = Options {
        seed: 0,
        dtype: hearth::model::safetensors::FileDType::F32,
        shards: 1,
        writer: hearth::model::ConfigWriter::Transformers4,
    };
    let files = common::written(&preset, &options);
    let reference = Engine::load(&files, &Device::flex(), Precision::F32).unwrap();
    for (dtype, name) in [(None, "f16"), (Some(Precision::Q8), "q8")] {
        let gguf = load("k.gguf", file.clone(), dtype).unwrap();
        assert_eq!(gguf.model.precision(), name);
        let a = agreement_with(&reference, &gguf);
        eprintln!(
            "Q4_K_M as {name}: agreement {:.2}, max logit error {:.3}",
            a.rate, a.max_logit_error
        );
        assert!(a.rate >= 0.35, "Q4_K_M as {name}: agreement {}", a.rate);
    }
}

/// The tokenizer rebuilt from `tokenizer.ggml.*` encodes and decodes every golden string as
/// the tokenizer.json it was converted from does, for Qwen's vocabulary and Llama 3's.
#[test]
fn gguf_tokenizer_equals_tokenizer_json() {
    use hearth::model::synthetic::Vocabulary;
    use hearth::text::Tokenizer;
    for (preset, vocabulary, golden) in [
        ("tiny-qwen3", Vocabulary::Qwen, "tokenize.json"),
        ("tiny-llama", Vocabulary::Llama3, "tokenize_llama3_1.json"),
    ] {
        let bytes = bytes(preset, "Q8_0");
        let header = hearth::model::gguf::Gguf::parse("t.gguf", &bytes).unwrap();
        let rebuilt = hearth::model::gguf::tokenizer::tokenizer_json(&header).unwrap();
        let ours = Tokenizer::from_bytes(&rebuilt).unwrap();
        let theirs =
            Tokenizer::from_bytes(&common::tokenizer_files(vocabulary).tokenizer_json).unwrap();
        assert_eq!(ours.vocab_size(), theirs.vocab_size(), "{preset}");
        for case in common::golden(golden)["cases"].as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            let ids = theirs.encode(text).unwrap();
            assert_eq!(ours.encode(text).unwrap(), ids, "{preset}: {text:?}");
            assert_eq!(
                ours.decode(&ids).unwrap(),
                theirs.decode(&ids).unwrap(),
                "{preset}: {text:?}"
            );
        }
    }
}
