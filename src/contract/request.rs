//! Validation of a completion_messages body into a typed [`CompletionRequest`].
//!
//! Rules (CONTRACT.md, "Request body"):
//! - Every error is 400/40001 and its message starts with the field's path
//!   (`messages[1].content[0].type: …`), so the person knows what to fix.
//! - `null` for an optional field means the field is absent; unknown fields are ignored.
//! - JSON has no integer type, so where an integer is expected a number with a zero
//!   fractional part is accepted (`3.0` is 3); `0.5` is an error.
//! - Nothing is silently clamped: a value out of range is an error naming the field.
//! - Fields are checked in a fixed order (model, messages, max_tokens, temperature,
//!   top_p, presence_penalty, frequency_penalty, n, stop, seed, stream, enable_thinking) and the first
//!   failure is reported, so every runtime gives the same message.

use serde_json::{Map, Number, Value};

use super::error::{ApiError, quote};
use super::json::kind_name;
use crate::text::Message;

/// The most answers one request may ask for.
pub const MAX_N: u32 = 8;
/// The most stop strings one request may give.
pub const MAX_STOP: usize = 4;

/// A validated request, the same for completion_messages and OpenAI's chat completions.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// As the client sent it; resolve it with [`super::resolve_model`].
    pub model: String,
    /// Non-empty; roles are system, user or assistant; content parts already joined.
    pub messages: Vec<Message>,
    /// None: until the context is full (see [`generation_budget`]).
    pub max_tokens: Option<u32>,
    /// 0 to 2; 0 means greedy.
    pub temperature: f32,
    /// Greater than 0, at most 1.
    pub top_p: f32,
    /// -2 to 2, subtracted once per token already generated in this answer.
    pub presence_penalty: f32,
    /// -2 to 2, subtracted per occurrence.
    pub frequency_penalty: f32,
    /// 1 to [`MAX_N`].
    pub n: u32,
    /// At most [`MAX_STOP`] non-empty strings.
    pub stop: Vec<String>,
    /// None: random.
    pub seed: Option<u64>,
    pub stream: bool,
    /// Passed to the chat template (Qwen3's switch for its thinking); None: the template's
    /// default.
    pub enable_thinking: Option<bool>,
}

impl CompletionRequest {
    /// Validates a completion_messages body (already parsed, see [`super::json`]).
    pub fn from_json(body: &Value) -> Result<Self, ApiError> {
        match body {
            Value::Object(map) => parse_fields(map, Dialect::Native),
            other => Err(ApiError::bad_json(format!(
                "invalid request body: expected a JSON object, got {}",
                kind_name(other)
            ))),
        }
    }
}

/// Reads and validates a raw completion_messages body: [`super::json::parse_object`]
/// then [`CompletionRequest::from_json`].
pub fn parse_completion_body(body: &[u8]) -> Result<CompletionRequest, ApiError> {
    let map = super::json::parse_object(body)?;
    parse_fields(&map, Dialect::Native)
}

/// How many tokens may be generated for a prompt of `prompt_tokens`: `max_tokens`
/// capped at what is left of the context (CONTRACT.md: "the prompt plus max_tokens is
/// capped at the model's context length"). A prompt that leaves no room for even one
/// token is 400/40002.
pub fn generation_budget(
    prompt_tokens: usize,
    max_tokens: Option<u32>,
    context_length: usize,
) -> Result<usize, ApiError> {
    if prompt_tokens >= context_length {
        return Err(ApiError::context_exceeded(prompt_tokens, context_length));
    }
    let room = context_length - prompt_tokens;
    Ok(max_tokens.map_or(room, |m| (m as usize).min(room)))
}

/// The two request dialects that share these rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// completion_messages.
    Native,
    /// OpenAI's chat completions: `max_completion_tokens` aliases `max_tokens`, and the
    /// `developer` role means `system`.
    OpenAi,
}

pub(crate) fn parse_fields(
    map: &Map<String, Value>,
    dialect: Dialect,
) -> Result<CompletionRequest, ApiError> {
    let model = match get(map, "model") {
        None => return Err(ApiError::invalid_field("model", "required")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(ApiError::invalid_field("model", "must not be empty"));
        }
        Some(Value::String(s)) => s.clone(),
        Some(v) => return Err(expected("model", "a string", v)),
    };
    let messages = parse_messages(get(map, "messages"), dialect)?;
    let max_tokens = parse_max_tokens(map, dialect)?;
    let temperature = number_in(map, "temperature", 1.0, 0.0, 2.0)?;
    let top_p = parse_top_p(map)?;
    let presence_penalty = number_in(map, "presence_penalty", 0.0, -2.0, 2.0)?;
    let frequency_penalty = number_in(map, "frequency_penalty", 0.0, -2.0, 2.0)?;
    let n = parse_n(map)?;
    let stop = parse_stop(get(map, "stop"))?;
    let seed = parse_seed(map)?;
    let stream = boolean(map, "stream")?.unwrap_or(false);
    let enable_thinking = boolean(map, "enable_thinking")?;
    Ok(CompletionRequest {
        model,
        messages,
        max_tokens,
        temperature,
        top_p,
        presence_penalty,
        frequency_penalty,
        n,
        stop,
        seed,
        stream,
        enable_thinking,
    })
}

fn boolean(map: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match get(map, field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(expected(field, "true or false", v)),
    }
}

/// Greater than 0, at most 1; default 1.
fn parse_top_p(map: &Map<String, Value>) -> Result<f32, ApiError> {
    Ok(match get(map, "top_p") {
        None => 1.0,
        Some(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            // Checked after the cast too: 1e-50 is positive but 0 as an f32.
            if !(x > 0.0 && x <= 1.0 && x as f32 > 0.0) {
                return Err(ApiError::invalid_field(
                    "top_p",
                    format!("must be greater than 0 and at most 1, got {n}"),
                ));
            }
            x as f32
        }
        Some(v) => {
            return Err(expected(
                "top_p",
                "a number greater than 0 and at most 1",
                v,
            ));
        }
    })
}

/// An integer 1 to [`MAX_N`]; default 1.
fn parse_n(map: &Map<String, Value>) -> Result<u32, ApiError> {
    Ok(match get(map, "n") {
        None => 1,
        Some(v) => {
            let want = "an integer between 1 and 8";
            match integer(v) {
                Some(i) if (1..=i128::from(MAX_N)).contains(&i) => i as u32,
                Some(_) => {
                    return Err(ApiError::invalid_field(
                        "n",
                        format!("must be between 1 and {MAX_N}, got {}", describe(v)),
                    ));
                }
                None => return Err(expected("n", want, v)),
            }
        }
    })
}

/// An integer in u64's range; default none (random).
fn parse_seed(map: &Map<String, Value>) -> Result<Option<u64>, ApiError> {
    Ok(match get(map, "seed") {
        None => None,
        Some(v) => match integer(v) {
            Some(i) if (0..=i128::from(u64::MAX)).contains(&i) => Some(i as u64),
            _ => {
                return Err(expected(
                    "seed",
                    &format!("an integer between 0 and {}", u64::MAX),
                    v,
                ));
            }
        },
    })
}

/// A field's value, with `null` meaning absent.
pub(crate) fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// `"{field}: expected {want}, got {value}"`.
pub(crate) fn expected(field: &str, want: &str, got: &Value) -> ApiError {
    ApiError::invalid_field(field, format!("expected {want}, got {}", describe(got)))
}

/// A value as a message shows it: numbers as written, strings quoted, containers by kind.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => format!("the string {}", quote(s)),
        other => kind_name(other).to_string(),
    }
}

/// The exact integer value of a JSON number, if it has one (`3` and `3.0` do, `0.5`
/// does not).
pub(crate) fn integer(v: &Value) -> Option<i128> {
    let Value::Number(n) = v else { return None };
    integer_of(n)
}

fn integer_of(n: &Number) -> Option<i128> {
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    let f = n.as_f64()?;
    // 1e38 keeps the cast exact-or-out-of-every-range; fields check their own range.
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38).then_some(f as i128)
}

/// A number field in `lo..=hi` (integers accepted), `default` when absent.
fn number_in(
    map: &Map<String, Value>,
    field: &str,
    default: f32,
    lo: f64,
    hi: f64,
) -> Result<f32, ApiError> {
    match get(map, field) {
        None => Ok(default),
        Some(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if (lo..=hi).contains(&x) {
                Ok(x as f32)
            } else {
                Err(ApiError::invalid_field(
                    field,
                    format!("must be between {lo} and {hi}, got {n}"),
                ))
            }
        }
        Some(v) => Err(expected(
            field,
            &format!("a number between {lo} and {hi}"),
            v,
        )),
    }
}

fn parse_max_tokens(map: &Map<String, Value>, dialect: Dialect) -> Result<Option<u32>, ApiError> {
    let one = |field: &str| -> Result<Option<u32>, ApiError> {
        let Some(v) = get(map, field) else {
            return Ok(None);
        };
        match integer(v) {
            Some(i) if (1..=i128::from(u32::MAX)).contains(&i) => Ok(Some(i as u32)),
            Some(i) if i > i128::from(u32::MAX) => Err(ApiError::invalid_field(
                field,
                format!("must be at most {}, got {}", u32::MAX, describe(v)),
            )),
            _ => Err(expected(field, "an integer >= 1", v)),
        }
    };
    let max_tokens = one("max_tokens")?;
    if dialect == Dialect::Native {
        return Ok(max_tokens);
    }
    // OpenAI renamed max_tokens to max_completion_tokens; either works, both must agree.
    let alias = one("max_completion_tokens")?;
    match (max_tokens, alias) {
        (Some(a), Some(b)) if a != b => Err(ApiError::invalid_field(
            "max_completion_tokens",
            format!("conflicts with max_tokens ({b} vs {a}); send one of them"),
        )),
        (a, b) => Ok(b.or(a)),
    }
}

fn parse_messages(v: Option<&Value>, dialect: Dialect) -> Result<Vec<Message>, ApiError> {
    let items = match v {
        None => return Err(ApiError::invalid_field("messages", "required")),
        Some(Value::Array(items)) => items,
        Some(v) => return Err(expected("messages", "a non-empty array of messages", v)),
    };
    if items.is_empty() {
        return Err(ApiError::invalid_field(
            "messages",
            "must contain at least one message",
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_message(i, item, dialect))
        .collect()
}

fn parse_message(i: usize, item: &Value, dialect: Dialect) -> Result<Message, ApiError> {
    let at = format!("messages[{i}]");
    let Value::Object(obj) = item else {
        return Err(expected(&at, "an object with role and content", item));
    };
    let roles = match dialect {
        Dialect::Native => "system, user, assistant",
        Dialect::OpenAi => "system, developer, user, assistant",
    };
    let role = match get(obj, "role") {
        None => return Err(ApiError::invalid_field(&format!("{at}.role"), "required")),
        Some(Value::String(r)) => match (r.as_str(), dialect) {
            ("system" | "user" | "assistant", _) => r.clone(),
            ("developer", Dialect::OpenAi) => "system".to_string(),
            _ => {
                return Err(ApiError::invalid_field(
                    &format!("{at}.role"),
                    format!("expected one of {roles}, got {}", quote(r)),
                ));
            }
        },
        Some(v) => {
            return Err(expected(
                &format!("{at}.role"),
                &format!("one of {roles}"),
                v,
            ));
        }
    };
    let content = parse_content(&at, get(obj, "content"))?;
    Ok(Message { role, content })
}

/// A string, or text parts joined with no separator (CONTRACT.md: "parts that are joined").
fn parse_content(at: &str, v: Option<&Value>) -> Result<String, ApiError> {
    let field = format!("{at}.content");
    let parts = match v {
        None => return Err(ApiError::invalid_field(&field, "required")),
        Some(Value::String(s)) => return Ok(s.clone()),
        Some(Value::Array(parts)) => parts,
        Some(v) => {
            return Err(expected(&field, "a string or an array of text parts", v));
        }
    };
    let mut joined = String::new();
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{field}[{j}]");
        let Value::Object(obj) = part else {
            return Err(expected(&at, r#"a part {"type":"text","text":...}"#, part));
        };
        match get(obj, "type") {
            None => return Err(ApiError::invalid_field(&format!("{at}.type"), "required")),
            Some(Value::String(t)) if t == "text" => {}
            Some(t) => {
                return Err(ApiError::invalid_field(
                    &format!("{at}.type"),
                    format!("only \"text\" parts are supported, got {}", describe(t)),
                ));
            }
        }
        match get(obj, "text") {
            None => return Err(ApiError::invalid_field(&format!("{at}.text"), "required")),
            Some(Value::String(s)) => joined.push_str(s),
            Some(v) => return Err(expected(&format!("{at}.text"), "a string", v)),
        }
    }
    Ok(joined)
}

fn parse_stop(v: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let nonempty = |field: &str, v: &Value| -> Result<String, ApiError> {
        match v {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(expected(field, "a non-empty string", v)),
        }
    };
    match v {
        None => Ok(Vec::new()),
        Some(s @ Value::String(_)) => Ok(vec![nonempty("stop", s)?]),
        Some(Value::Array(items)) => {
            if items.len() > MAX_STOP {
                return Err(ApiError::invalid_field(
                    "stop",
                    format!("at most {MAX_STOP} strings, got {}", items.len()),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, s)| nonempty(&format!("stop[{i}]"), s))
                .collect()
        }
        Some(v) => Err(expected(
            "stop",
            &format!("a string or an array of at most {MAX_STOP} strings"),
            v,
        )),
    }
}
