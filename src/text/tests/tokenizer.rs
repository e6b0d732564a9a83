use super::qwen;
use crate::text::{TextError, Tokenizer};

#[test]
fn is_send_sync_and_cheap_to_share() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Tokenizer>();
    assert_send_sync::<crate::text::Detokenizer>();
    assert_send_sync::<crate::text::ChatTemplate>();
    assert_send_sync::<crate::text::ChatFormat>();
}

#[test]
fn ids_match_transformers() {
    // tokenizer(s, add_special_tokens=False)["input_ids"] from transformers 5.24.
    let cases: &[(&str, &[u32])] = &[
        ("Hello, world!", &[9707, 11, 1879, 0]),
        ("你好，世界", &[108386, 3837, 99489]),
        ("Hello 👋🏽 world", &[9707, 61804, 233, 145375, 1879]),
        ("e\u{301} café", &[963, 51950]),
        (
            "<|im_start|>user\nHi<|im_end|>\n",
            &[151644, 872, 198, 13048, 151645, 198],
        ),
        (
            "<think>\nhm\n</think>\n\nok",
            &[151667, 198, 34301, 198, 151668, 271, 562],
        ),
        (
            "  leading spaces\n\n\ttabs",
            &[220, 6388, 12621, 271, 3244, 3435],
        ),
        (
            "1234567 numbers 3.14",
            &[16, 17, 18, 19, 20, 21, 22, 5109, 220, 18, 13, 16, 19],
        ),
        ("Ａｂｃ ﬁ", &[133054, 144454, 144196, 32495, 70731]),
        (
            "👨\u{200d}👩\u{200d}👧\u{200d}👦 family",
            &[
                145367, 378, 235, 145233, 378, 235, 145665, 378, 235, 145988, 2997,
            ],
        ),
        ("<|im_end|><|endoftext|>x", &[151645, 151643, 87]),
        ("   ", &[262]),
        ("\n\n\n", &[1406]),
        ("I'm can't", &[40, 2776, 646, 944]),
    ];
    let tok = qwen();
    for (text, ids) in cases {
        assert_eq!(tok.encode(text).unwrap(), *ids, "encode {text:?}");
    }
}

#[test]
fn round_trips() {
    let tok = qwen();
    for text in [
        "",
        "plain ascii, with punctuation!? and    spaces\n\tand tabs",
        "你好，世界！日本語のテキスト한국어",
        "emoji 👋🏽 👨\u{200d}👩\u{200d}👧\u{200d}👦 🇫🇷 ☀\u{fe0f}",
        "<think>\nreasoning\n</think>\n\nanswer <tool_call>{}</tool_call>",
        "code: fn main() { println!(\"{}\", 1 + 2); }\r\n",
        "mixed العربية עברית हिन्दी ελληνικά кириллица",
    ] {
        let ids = tok.encode(text).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), text, "{ids:?}");
    }
    // The NFC normalizer composes combining characters, as transformers does.
    let ids = tok.encode("cafe\u{301} n\u{303}").unwrap();
    assert_eq!(tok.decode(&ids).unwrap(), "café ñ");
}

#[test]
fn decode_skips_special_tokens_only() {
    let tok = qwen();
    let ids = tok.encode("<|im_start|>user\nHi<|im_end|>\n").unwrap();
    assert_eq!(tok.decode(&ids).unwrap(), "user\nHi\n");
    // <think> and </think> are added tokens but not special: they stay.
    let ids = tok
        .encode("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        .unwrap();
    assert_eq!(ids, [151644, 77091, 198, 151667, 271, 151668, 271]);
    assert_eq!(
        tok.decode(&ids).unwrap(),
        "assistant\n<think>\n\n</think>\n\n"
    );
    // Byte-level pieces of split characters, as transformers decodes them.
    let cases: &[(&[u32], &str)] = &[
        (&[172, 253], "\u{fffd}"),
        (&[172, 253, 9707], "\u{fffd}Hello"),
        (&[222, 172, 253, 152, 222], "\u{fffd}\u{fffd}\u{700}"),
        (&[9707, 61804], "Hello \u{fffd}"),
        (&[9707, 61804, 233], "Hello 👋"),
        (&[151644, 172, 151645, 253, 152, 222], "\u{fffd}\u{700}"),
        (&[160, 126], "\u{fffd}\u{fffd}"),
        (&[108386, 151643, 3837], "你好，"),
        // Ids past the vocabulary are dropped, like specials.
        (&[9707, 999_999, 0], "Hello!"),
    ];
    for (ids, text) in cases {
        assert_eq!(tok.decode(ids).unwrap(), *text, "{ids:?}");
    }
}

#[test]
fn token_ids_and_vocab() {
    let tok = qwen();
    assert_eq!(tok.token_id("<|im_start|>"), Some(151644));
    assert_eq!(tok.token_id("<|im_end|>"), Some(151645));
    assert_eq!(tok.token_id("<|endoftext|>"), Some(151643));
    assert_eq!(tok.token_id("<think>"), Some(151667));
    assert_eq!(tok.token_id("</think>"), Some(151668));
    assert_eq!(tok.token_id("<definitely-not-a-token>"), None);
    assert_eq!(tok.vocab_size(), 151_669); // len(tokenizer)
    assert!(tok.is_special(151645));
    assert!(!tok.is_special(151667));
}

#[test]
fn load_errors_name_the_file() {
    let err = Tokenizer::from_bytes(b"{ not json").unwrap_err();
    assert!(matches!(err, TextError::TokenizerLoad(_)));
    assert!(err.to_string().starts_with("tokenizer.json: "), "{err}");
}
