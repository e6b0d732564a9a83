//! A lenient JSON reader for request bodies.
//!
//! The user's own curl example ends its object with `"max_tokens": 100,` then `}`, so
//! trailing commas before `}` and `]` are accepted. Everything else is strict JSON
//! (serde_json), and errors carry a 1-based line and column so a person can find them.
//!
//! How: a scanner replaces each trailing comma (outside strings, honouring escapes) with a
//! space, which keeps every byte position, then serde_json parses the result. Only a comma
//! that follows a value and precedes `}`/`]` is blanked, so `{,}`, `[,]` and `[1,,]` stay
//! errors.
//!
//! A key given twice keeps its last value (serde_json's behaviour; RFC 8259 leaves it
//! open). Nesting deeper than 128 levels is a 40000 error (serde_json's recursion limit).

use serde_json::{Map, Value};

use super::error::ApiError;

/// Parses a request body: UTF-8 (a leading byte-order mark is ignored, as RFC 8259
/// allows), lenient JSON, and an object at the top level. Every failure is 400/40000.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) = line_column(body, e.valid_up_to());
            return Err(ApiError::bad_json(format!(
                "invalid JSON at line {line}, column {column}: the body is not valid UTF-8"
            )));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match parse_lenient(text)? {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::bad_json(format!(
            "invalid request body: expected a JSON object, got {}",
            kind_name(&other)
        ))),
    }
}

/// Parses any JSON value, accepting trailing commas; errors give line and column.
pub fn parse_lenient(text: &str) -> Result<Value, ApiError> {
    if text.trim_matches(is_json_ws).is_empty() {
        return Err(ApiError::bad_json(
            "invalid JSON: the body is empty; expected an object",
        ));
    }
    let cleaned = blank_trailing_commas(text);
    serde_json::from_slice(&cleaned).map_err(|e| {
        // serde_json counts columns in bytes; people count characters.
        let line = e.line().max(1);
        let column = char_column(text.as_bytes(), line, e.column());
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let what = full.strip_suffix(&suffix).unwrap_or(&full);
        ApiError::bad_json(format!(
            "invalid JSON at line {line}, column {column}: {what}"
        ))
    })
}

/// A copy of `text` with every trailing comma replaced by a space (same length).
pub fn blank_trailing_commas(text: &str) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    let bytes = text.as_bytes();
    let mut in_string = false;
    let mut escaped = false;
    // Last significant byte outside strings; a comma after `{`, `[`, `,` or `:` (or at
    // the start) follows no value, so it is a syntax error, not a trailing comma.
    let mut prev: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                prev = Some(b'"');
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b' ' | b'\t' | b'\n' | b'\r' => continue,
            b',' => {
                let after_value = !matches!(prev, None | Some(b'{' | b'[' | b',' | b':'));
                let next = bytes[i + 1..].iter().find(|&&c| !is_json_ws_byte(c));
                if after_value && matches!(next, Some(b'}' | b']')) {
                    out[i] = b' ';
                }
            }
            _ => {}
        }
        prev = Some(b);
    }
    out
}

fn is_json_ws_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_json_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// 1-based line and character column of byte `offset`.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, count_chars(&before[start..]) + 1)
}

/// Converts serde_json's byte column on `line` (1-based; 0 right after a newline) to a
/// 1-based character column.
fn char_column(bytes: &[u8], line: usize, byte_column: usize) -> usize {
    let start = if line <= 1 {
        0
    } else {
        bytes
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(line - 2)
            .map_or(bytes.len(), |(i, _)| i + 1)
    };
    let rest = &bytes[start..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    // serde_json's column points at the offending byte, so the bytes before it are
    // `byte_column - 1`.
    let upto = byte_column.saturating_sub(1).min(end);
    count_chars(&rest[..upto]) + 1
}

/// Characters in a UTF-8 byte run (continuation bytes do not start a character).
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// "an array", "a string", … for messages about a value's type.
pub(crate) fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
