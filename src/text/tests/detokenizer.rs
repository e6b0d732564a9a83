use super::qwen;
use crate::text::{Detokenizer, Tokenizer};

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Streams `ids` and checks the invariants; returns the chunks.
fn stream(tok: &Tokenizer, ids: &[u32]) -> Vec<String> {
    stream_checked(tok, ids, true)
}

/// `byte_level`: also check that text is emitted as soon as it is final and that the window
/// stays small, which only byte-level decoding promises.
fn stream_checked(tok: &Tokenizer, ids: &[u32], byte_level: bool) -> Vec<String> {
    let want = tok.decode(ids).unwrap();
    let mut detok = Detokenizer::new(tok);
    let mut chunks = Vec::new();
    let mut so_far = String::new();
    for (i, &id) in ids.iter().enumerate() {
        let chunk = detok.push(id).unwrap();
        so_far.push_str(&chunk);
        // Everything emitted is final: it is a prefix of the full decode, so any U+FFFD in a
        // chunk is one that decode of the whole sequence has at that place too.
        assert!(
            want.starts_with(&so_far),
            "after {i} ids of {ids:?}: emitted {so_far:?}, full decode {want:?}"
        );
        // And nothing is emitted that is not final yet: the emitted text is at least the
        // decode of the prefix minus a possibly unfinished last character.
        let prefix = tok.decode(&ids[..=i]).unwrap();
        let settled = prefix.strip_suffix('\u{fffd}').unwrap_or(&prefix);
        if byte_level {
            assert!(
                so_far.len() >= settled.len() || !want.starts_with(settled),
                "after {i} ids of {ids:?}: emitted {so_far:?}, could have {settled:?}"
            );
            assert!(
                detok.window_len() <= 12,
                "window grew to {} ids on {ids:?}",
                detok.window_len()
            );
        }
        chunks.push(chunk);
    }
    let rest = detok.finish().unwrap();
    so_far.push_str(&rest);
    chunks.push(rest);
    assert_eq!(so_far, want, "{ids:?}");
    chunks
}

#[test]
fn streams_real_text() {
    let tok = qwen();
    let texts = [
        "Hello, world! This is a plain sentence.",
        "你好，世界！今天天气很好。我们去公园散步吧。",
        "Emoji: 👋🏽 👨\u{200d}👩\u{200d}👧\u{200d}👦 🇫🇷🇯🇵 ☀\u{fe0f} 🫠 end",
        "mixed العربية עברית हिन्दी ελληνικά кириллица 日本語 한국어 ไทย",
        "<think>\nreasoning 🤔\n</think>\n\nanswer: ∑ x² ≈ 3.14 — done",
        "combining e\u{301} a\u{308} and ZWJ\u{200d}",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 and 𐍈 gothic",
    ];
    for text in texts {
        let mut ids = tok.encode(text).unwrap();
        let chunks = stream(tok, &ids);
        // Valid text leaves nothing behind for finish.
        assert_eq!(chunks.last().unwrap(), "", "{text:?}");
        assert!(chunks.iter().all(|c| !c.contains('\u{fffd}')), "{chunks:?}");
        // Special tokens in the stream are skipped without disturbing the text.
        ids.insert(ids.len() / 2, 151645);
        ids.push(151643);
        stream(tok, &ids);
    }
}

#[test]
fn split_emoji_waits_for_its_last_byte() {
    let tok = qwen();
    // "Hello 👋🏽 world": 61804 is " " + the first three bytes of 👋.
    let chunks = stream(tok, &[9707, 61804, 233, 145375, 1879]);
    assert_eq!(chunks, ["Hello", " ", "👋", "🏽", " world", ""]);
}

#[test]
fn invalid_bytes_are_emitted_once_final() {
    let tok = qwen();
    // 0x80 (lone continuation), F0 9F (unfinished 4-byte lead), DC 80 (U+0700).
    let chunks = stream(tok, &[222, 172, 253, 152, 222]);
    assert_eq!(chunks.concat(), "\u{fffd}\u{fffd}\u{700}");
    // An unfinished character at the very end comes out of finish.
    let chunks = stream(tok, &[9707, 172, 253]);
    assert_eq!(chunks, ["Hello", "", "", "\u{fffd}"]);
}

#[test]
fn random_ids() {
    let tok = qwen();
    // Ids that are single bytes in byte-level BPE: lone continuation bytes and leads.
    let byte_ids: Vec<u32> = (0x80u8..=0xff)
        .map(|b| {
            let sym = byte_level_char(b);
            tok.token_id(&sym.to_string())
                .expect("every byte has a token")
        })
        .collect();
    let vocab = tok.vocab_size() as u64;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..410 {
        // Mostly short sequences, and a few long ones.
        let len = 1 + rng.below(if round < 400 { 24 } else { 150 }) as usize;
        let ids: Vec<u32> = (0..len)
            .map(|_| match rng.below(10) {
                0..=4 => byte_ids[rng.below(byte_ids.len() as u64) as usize],
                5..=7 => rng.below(vocab) as u32,
                8 => 151_643 + rng.below(26) as u32, // added tokens, special or not
                _ => rng.below(2000) as u32,         // common short tokens
            })
            .collect();
        stream(tok, &ids);
    }
}

#[test]
fn long_garbage_keeps_the_window_small() {
    let tok = qwen();
    let lead = tok.token_id(&byte_level_char(0xf0).to_string()).unwrap();
    let cont = tok.token_id(&byte_level_char(0x80).to_string()).unwrap();
    // F0 F0 F0 … never finishes a character; 80 80 80 … never starts one.
    stream(tok, &vec![lead; 200]);
    stream(tok, &vec![cont; 200]);
    let mixed: Vec<u32> = (0..300)
        .map(|i| if i % 3 == 0 { lead } else { cont })
        .collect();
    stream(tok, &mixed);
}

#[test]
fn reusable_after_finish() {
    let tok = qwen();
    let mut detok = Detokenizer::new(tok);
    for _ in 0..2 {
        let mut out = String::new();
        for id in tok.encode("你好 👋🏽").unwrap() {
            out.push_str(&detok.push(id).unwrap());
        }
        out.push_str(&detok.finish().unwrap());
        assert_eq!(out, "你好 👋🏽");
    }
}

/// A Llama-style tokenizer (Metaspace spaces, byte-fallback tokens, strip of the first space):
/// not byte-level, so streaming takes the conservative path.
fn byte_fallback_tokenizer() -> Tokenizer {
    let mut vocab = serde_json::Map::new();
    let pieces = ["<s>", "▁Hello", "▁world", "▁", "a", "▁你", "!"];
    for (i, p) in pieces.iter().enumerate() {
        vocab.insert((*p).to_owned(), i.into());
    }
    for b in [0x80u8, 0xa0, 0xbd, 0xe4, 0xf0, 0x9f, 0x98, 0x41] {
        let id = vocab.len();
        vocab.insert(format!("<0x{b:02X}>"), id.into());
    }
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{
            "id": 0, "content": "<s>", "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true
        }],
        "normalizer": null,
        "pre_tokenizer": null,
        "post_processor": null,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}
        ]},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": false, "byte_fallback": true, "ignore_merges": false,
            "vocab": vocab, "merges": []
        }
    });
    Tokenizer::from_bytes(&serde_json::to_vec(&json).unwrap()).unwrap()
}

#[test]
fn other_decoders_stream_conservatively() {
    let tok = byte_fallback_tokenizer();
    assert!(!tok.decodes_lossy_utf8());
    // "Hello world" with the decoder's first-space strip, then 你 as three byte tokens.
    let hello = tok.token_id("▁Hello").unwrap();
    let world = tok.token_id("▁world").unwrap();
    let bytes: Vec<u32> = ["<0xE4>", "<0xBD>", "<0xA0>"]
        .iter()
        .map(|t| tok.token_id(t).unwrap())
        .collect();
    let mut ids = vec![hello, world];
    ids.extend(&bytes);
    assert_eq!(tok.decode(&ids).unwrap(), "Hello world你");
    let chunks = stream_checked(&tok, &ids, false);
    assert_eq!(chunks, ["Hello", " world", "", "", "", "你"]);

    let n = tok.vocab_size() as u64;
    let mut rng = Rng(42);
    for _ in 0..300 {
        let len = 1 + rng.below(16) as usize;
        let ids: Vec<u32> = (0..len).map(|_| rng.below(n + 1) as u32).collect();
        stream_checked(&tok, &ids, false);
    }
}

/// GPT-2's byte-to-unicode table, which byte-level BPE vocabularies are spelled in.
fn byte_level_char(b: u8) -> char {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xa1..=0xac).contains(&b) || b >= 0xae;
    if printable(b) {
        return char::from(b);
    }
    let offset = (0..b).filter(|&x| !printable(x)).count() as u32;
    char::from_u32(256 + offset).unwrap()
}
