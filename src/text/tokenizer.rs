//! Text <-> token ids, matching what `transformers` does for chat prompts.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use super::TextError;

/// A loaded `tokenizer.json`.
///
/// Cloning is cheap (the vocabulary is shared behind an `Arc`), so one instance can serve every
/// request and thread; per-request state lives in [`super::Detokenizer`].
#[derive(Clone)]
pub struct Tokenizer {
    inner: Arc<Inner>,
}

struct Inner {
    tok: tokenizers::Tokenizer,
    /// Ids of added tokens flagged `special`; `decode` drops exactly these (plus unknown ids).
    special_ids: HashSet<u32>,
    /// The decoder is plain byte-level BPE (GPT-2/Qwen): decoded text is
    /// `String::from_utf8_lossy` of the tokens' concatenated bytes.
    lossy_utf8: bool,
}

impl Tokenizer {
    /// Parses the contents of a `tokenizer.json`.
    pub fn from_bytes(json: &[u8]) -> Result<Self, TextError> {
        let mut tok = tokenizers::Tokenizer::from_bytes(json)
            .map_err(|e| TextError::TokenizerLoad(e.to_string()))?;
        // transformers never applies the truncation/padding stored in tokenizer.json when it
        // tokenizes a chat prompt, so neither do we.
        tok.with_truncation(None)
            .map_err(|e| TextError::TokenizerLoad(e.to_string()))?;
        tok.with_padding(None);
        let special_ids = tok
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| id)
            .collect();
        let lossy_utf8 = matches!(
            tok.get_decoder(),
            Some(tokenizers::decoders::DecoderWrapper::ByteLevel(_))
        );
        Ok(Self {
            inner: Arc::new(Inner {
                tok,
                special_ids,
                lossy_utf8,
            }),
        })
    }

    /// Reads and parses a `tokenizer.json` file.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, TextError> {
        let path = path.as_ref();
        let json = std::fs::read(path)
            .map_err(|e| TextError::TokenizerLoad(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&json)
    }

    /// Encodes `text` without adding BOS/EOS, like `tokenizer(text, add_special_tokens=False)`.
    /// Added tokens written in the text (`<|im_start|>`, `<think>`) become their ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TextError> {
        // encode_fast skips offset tracking, which we never use; the ids are identical.
        let enc = self
            .inner
            .tok
            .encode_fast(text, false)
            .map_err(|e| TextError::Encode(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Decodes `ids` like `tokenizer.decode(ids, skip_special_tokens=True)`: special added tokens
    /// and unknown ids are dropped, bytes that are not valid UTF-8 become U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TextError> {
        self.inner
            .tok
            .decode(ids, true)
            .map_err(|e| TextError::Decode(e.to_string()))
    }

    /// The id of a token string (added tokens included), e.g. `"<|im_end|>"`.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.tok.token_to_id(token)
    }

    /// The token string of an id, in the vocabulary's own spelling (byte-level symbols for BPE).
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.tok.id_to_token(id)
    }

    /// Vocabulary size including added tokens, like `len(tokenizer)` in transformers.
    pub fn vocab_size(&self) -> usize {
        self.inner.tok.get_vocab_size(true)
    }

    /// Whether `id` is a special added token (dropped by [`Tokenizer::decode`]).
    pub fn is_special(&self, id: u32) -> bool {
        self.inner.special_ids.contains(&id)
    }

    /// True when `decode` ignores `id` entirely, so streaming can skip it without changing the
    /// text: special tokens and ids outside the vocabulary.
    pub(crate) fn is_invisible(&self, id: u32) -> bool {
        self.is_special(id) || self.inner.tok.id_to_token(id).is_none()
    }

    /// True when decoding is `from_utf8_lossy` over the tokens' bytes, which lets streaming
    /// prove where text is final (see [`super::Detokenizer`]).
    pub(crate) fn decodes_lossy_utf8(&self) -> bool {
        self.inner.lossy_utf8
    }

    /// The wrapped `tokenizers` tokenizer, for anything this wrapper does not cover.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner.tok
    }
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("special_tokens", &self.inner.special_ids.len())
            .finish()
    }
}
