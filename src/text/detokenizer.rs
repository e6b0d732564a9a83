//! Streaming detokenization: turn ids into text one id at a time, emitting only characters that
//! can no longer change.
//!
//! Decoding one token alone is wrong in two ways: a character may be split across tokens (its
//! first bytes decode to U+FFFD), and some decoders treat the first token of a string
//! specially. So each push decodes a short window of recent ids — some already-emitted ids as
//! context (`ids[..read]`, whose text is `prefix_text`) plus the ids still held back
//! (`ids[read..]`) — and emits what the window adds beyond what was already returned. This is
//! the prefix/read-offset technique of text-generation-inference and vLLM.

use super::{TextError, Tokenizer};

const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;

/// Already-emitted ids kept in the window as context for the decoder.
const CONTEXT: usize = 4;

/// `<0xNN>`: a raw byte in sentencepiece-style vocabularies.
fn is_byte_fallback_piece(tokenizer: &Tokenizer, id: u32) -> bool {
    tokenizer
        .id_to_token(id)
        .is_some_and(|t| t.len() == 6 && t.starts_with("<0x") && t.ends_with('>'))
}

/// Per-request streaming state over a shared [`Tokenizer`].
///
/// The concatenation of every [`Detokenizer::push`] result plus [`Detokenizer::finish`] equals
/// `tokenizer.decode(all_ids)`, and no chunk holds a U+FFFD that stands for a character still
/// being completed.
///
/// Each push decodes the window only: up to four emitted ids of context plus the held ids. With
/// byte-level vocabularies (Qwen, GPT-2) ids are held only while they spell an unfinished
/// character, so the window stays a handful of ids; it could grow only on a run of tokens that
/// each straddle a character boundary, which the Qwen vocabulary has three of. Other decoders
/// also hold runs of `<0xNN>` byte tokens until a regular token closes them.
#[derive(Debug, Clone)]
pub struct Detokenizer {
    tokenizer: Tokenizer,
    /// The window: `ids[..read]` is emitted context, `ids[read..]` is held.
    ids: Vec<u32>,
    read: usize,
    /// `decode(ids[..read])`.
    prefix_text: String,
    /// Bytes of `decode(ids)` past `prefix_text` already returned (some of the held ids' text
    /// may be out already, see `push`).
    emitted: usize,
}

impl Detokenizer {
    pub fn new(tokenizer: &Tokenizer) -> Self {
        Self {
            tokenizer: tokenizer.clone(),
            ids: Vec::new(),
            read: 0,
            prefix_text: String::new(),
            emitted: 0,
        }
    }

    /// Adds one generated id and returns the text that became final (often empty).
    pub fn push(&mut self, id: u32) -> Result<String, TextError> {
        // Special and unknown ids vanish in `decode`, wherever they sit, so they need no place
        // in the window; dropping them keeps the window small.
        if self.tokenizer.is_invisible(id) {
            return Ok(String::new());
        }
        self.ids.push(id);
        let text = self.tokenizer.decode(&self.ids)?;
        let Some(tail) = text.strip_prefix(self.prefix_text.as_str()) else {
            // A decoder whose output for the longer window does not extend the shorter one;
            // hold everything and let `finish` reconcile.
            tracing::debug!(id, "detokenizer: window text does not extend its prefix");
            return Ok(String::new());
        };
        let pending = tail.ends_with(REPLACEMENT);
        if !self.tokenizer.decodes_lossy_utf8() {
            // Other decoders may still rewrite held text: byte-fallback decodes a whole run of
            // `<0xNN>` tokens at once (one U+FFFD per byte if the run is not valid UTF-8, even
            // for bytes that looked fine alone). So emit only at a clean end after a run closes.
            if pending || is_byte_fallback_piece(&self.tokenizer, id) {
                return Ok(String::new());
            }
            let out = tail.get(self.emitted..).unwrap_or_default().to_owned();
            self.emitted = tail.len();
            let end = text.len();
            self.advance(self.ids.len(), end, end)?;
            return Ok(out);
        }

        // Byte-level BPE decodes with `from_utf8_lossy`: every character before a trailing
        // U+FFFD is final, and only that last U+FFFD may still grow into a real character.
        let stable = tail.len() - if pending { REPLACEMENT.len_utf8() } else { 0 };
        let out = tail
            .get(self.emitted..stable)
            .unwrap_or_default()
            .to_owned();
        self.emitted = self.emitted.max(stable);
        if !pending {
            let end = text.len();
            self.advance(self.ids.len(), end, end)?;
        } else if self.ids.len() - self.read >= 2 {
            self.advance_past_invalid_bytes(&text)?;
        }
        Ok(out)
    }

    /// Returns whatever is still held (a trailing U+FFFD of an unfinished character, which
    /// `decode` of the whole sequence would also show) and resets for a new sequence.
    pub fn finish(&mut self) -> Result<String, TextError> {
        let out = if self.ids.is_empty() {
            String::new()
        } else {
            let text = self.tokenizer.decode(&self.ids)?;
            match text.strip_prefix(self.prefix_text.as_str()) {
                Some(tail) => tail.get(self.emitted..).unwrap_or_default().to_owned(),
                None => {
                    // Only reachable with decoders that rewrite earlier text; emit what is new
                    // past the longest common prefix.
                    let common = text
                        .char_indices()
                        .zip(self.prefix_text.chars())
                        .take_while(|((_, a), b)| a == b)
                        .last()
                        .map_or(0, |((i, a), _)| i + a.len_utf8());
                    text[common..].to_owned()
                }
            }
        };
        self.ids.clear();
        self.read = 0;
        self.prefix_text.clear();
        self.emitted = 0;
        Ok(out)
    }

    /// The tokenizer this detokenizer decodes with.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The trailing U+FFFD may stand for bytes that are already known to be invalid (say a
    /// lone continuation byte followed by another token). Then the text is final up to the last
    /// token, and the window can move on; otherwise unfinished characters would keep the window
    /// growing for as long as the model emits garbage bytes.
    ///
    /// The boundary before the last token is clean exactly when decoding both sides apart gives
    /// the same text as decoding them together: a character still being completed across it
    /// would decode as one character (or one U+FFFD) together but as two U+FFFDs apart.
    fn advance_past_invalid_bytes(&mut self, text: &str) -> Result<(), TextError> {
        let last = self.ids.len() - 1;
        let last_text = self.tokenizer.decode(&self.ids[last..])?;
        let Some(head_len) = text.len().checked_sub(last_text.len()) else {
            return Ok(());
        };
        if last_text.is_empty() || !text.ends_with(&last_text) || head_len < self.prefix_text.len()
        {
            return Ok(());
        }
        let head = self.tokenizer.decode(&self.ids[..last])?;
        if head.len() == head_len && text.starts_with(&head) {
            self.advance(last, head_len, text.len())?;
        }
        Ok(())
    }

    /// Makes `ids[..at]` emitted context. `at_text` is where token `at` starts in the window's
    /// text (of length `text_len`) and must be a clean boundary: text on either side decodes
    /// independently.
    fn advance(&mut self, at: usize, at_text: usize, text_len: usize) -> Result<(), TextError> {
        let emitted_abs = self.prefix_text.len() + self.emitted;
        debug_assert!(emitted_abs >= at_text && emitted_abs <= text_len);
        let start = at.saturating_sub(CONTEXT);
        self.ids.drain(..start);
        self.read = at - start;
        self.prefix_text = self.tokenizer.decode(&self.ids[..self.read])?;
        self.emitted = emitted_abs.saturating_sub(at_text);
        Ok(())
    }

    /// Ids currently decoded per push (for tests of the bounded-work promise).
    #[cfg(test)]
    pub(crate) fn window_len(&self) -> usize {
        self.ids.len()
    }
}
