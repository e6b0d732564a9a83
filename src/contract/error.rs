//! The contract's errors: one table, one constructor per row.
//!
//! [`ERROR_TABLE`] is the only place where a status, a code or an OpenAI error type is
//! written down; constructors, the OpenAI mapping and the tests all read it. docs/CONTRACT.md
//! publishes it, and a unit test checks that its table and [`ERROR_TABLE`] agree row for row.

use std::fmt::Display;

/// Which row of [`ERROR_TABLE`] an error belongs to. The discriminant is the row index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    BadJson,
    InvalidField,
    ContextExceeded,
    BrokenBody,
    Unauthorized,
    UnknownModel,
    UnknownPath,
    MethodNotAllowed,
    RequestTimeout,
    BodyTooLarge,
    UnsupportedMediaType,
    Busy,
    Internal,
    BadGateway,
    GatewayTimeout,
}

/// One row of the error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRow {
    pub kind: ErrorKind,
    /// The snake_case name used in documentation and tests.
    pub name: &'static str,
    pub status: u16,
    pub code: u32,
    /// `error.type` in OpenAI's error shape.
    pub openai_type: &'static str,
    /// `error.code` in OpenAI's error shape (OpenAI's own spelling where it has one).
    pub openai_code: &'static str,
    pub when: &'static str,
}

const fn row(
    kind: ErrorKind,
    name: &'static str,
    status: u16,
    code: u32,
    openai_type: &'static str,
    openai_code: &'static str,
    when: &'static str,
) -> ErrorRow {
    ErrorRow {
        kind,
        name,
        status,
        code,
        openai_type,
        openai_code,
        when,
    }
}

const INVALID: &str = "invalid_request_error";
const SERVER: &str = "server_error";

/// The error table, in [`ErrorKind`] order (a test checks `ERROR_TABLE[k as usize].kind == k`).
#[rustfmt::skip]
pub const ERROR_TABLE: &[ErrorRow] = &[
    row(ErrorKind::BadJson, "bad_json", 400, 40000, INVALID, "invalid_json",
        "the body is not JSON (the message gives line and column)"),
    row(ErrorKind::InvalidField, "invalid_field", 400, 40001, INVALID, "invalid_value",
        "a field is missing, of the wrong type or out of range (the message names it)"),
    row(ErrorKind::ContextExceeded, "context_exceeded", 400, 40002, INVALID,
        "context_length_exceeded", "the prompt alone does not fit the model's context length"),
    row(ErrorKind::BrokenBody, "broken_body", 400, 40003, INVALID, "invalid_body",
        "the body could not be read to its end (the message says why)"),
    row(ErrorKind::Unauthorized, "unauthorized", 401, 40100, INVALID, "invalid_api_key",
        "missing, malformed or wrong API key"),
    row(ErrorKind::UnknownModel, "unknown_model", 404, 40400, INVALID, "model_not_found",
        "unknown model (the message lists the served ids)"),
    row(ErrorKind::UnknownPath, "unknown_path", 404, 40401, INVALID, "unknown_url",
        "unknown path"),
    row(ErrorKind::MethodNotAllowed, "method_not_allowed", 405, 40500, INVALID,
        "method_not_allowed", "wrong method (with an `Allow` header)"),
    row(ErrorKind::RequestTimeout, "request_timeout", 408, 40800, INVALID, "request_timeout",
        "the body did not arrive within the server's read timeout"),
    row(ErrorKind::BodyTooLarge, "body_too_large", 413, 41300, INVALID, "body_too_large",
        "body over the limit (1 MiB by default)"),
    row(ErrorKind::UnsupportedMediaType, "unsupported_media_type", 415, 41500, INVALID,
        "unsupported_media_type", "unsupported content type"),
    row(ErrorKind::Busy, "busy", 503, 50300, SERVER, "server_busy",
        "the server is at capacity (with `Retry-After`)"),
    row(ErrorKind::Internal, "internal", 500, 50000, SERVER, "internal_error",
        "an internal fault; the process keeps serving"),
    row(ErrorKind::BadGateway, "bad_gateway", 502, 50200, SERVER, "bad_gateway",
        "the upstream answered garbage or an error (the message gives its status)"),
    row(ErrorKind::GatewayTimeout, "gateway_timeout", 504, 50400, SERVER, "gateway_timeout",
        "the upstream did not answer in time"),
];

impl ErrorKind {
    /// Every kind, in table order.
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::BadJson,
        ErrorKind::InvalidField,
        ErrorKind::ContextExceeded,
        ErrorKind::BrokenBody,
        ErrorKind::Unauthorized,
        ErrorKind::UnknownModel,
        ErrorKind::UnknownPath,
        ErrorKind::MethodNotAllowed,
        ErrorKind::RequestTimeout,
        ErrorKind::BodyTooLarge,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::Busy,
        ErrorKind::Internal,
        ErrorKind::BadGateway,
        ErrorKind::GatewayTimeout,
    ];

    pub fn row(self) -> &'static ErrorRow {
        &ERROR_TABLE[self as usize]
    }

    /// The kind whose row has this envelope code.
    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ERROR_TABLE.iter().find(|r| r.code == code).map(|r| r.kind)
    }
}

/// An error as every runtime answers it: HTTP status, envelope code, a message a person
/// can act on, and the two headers some rows need.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
    /// The `Allow` header (405 only).
    pub allow: Option<&'static str>,
    /// The `Retry-After` header in seconds (503 only).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error of `kind` with this message and no extra headers.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let row = kind.row();
        ApiError {
            status: row.status,
            code: row.code,
            message: message.into(),
            allow: None,
            retry_after: None,
        }
    }

    /// The table row this error came from (None only for hand-built errors).
    pub fn kind(&self) -> Option<ErrorKind> {
        ErrorKind::from_code(self.code)
    }

    /// 400/40000. `message` is complete (json.rs puts line and column in it).
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadJson, message)
    }

    /// 400/40001, message `"{field}: {detail}"`: the field path always comes first, so
    /// the OpenAI shape can recover it as `param`.
    pub fn invalid_field(field: &str, detail: impl Display) -> Self {
        Self::new(ErrorKind::InvalidField, format!("{field}: {detail}"))
    }

    /// 400/40003: reading the body failed part way (`detail`: the transport's reason).
    pub fn broken_body(detail: impl Display) -> Self {
        Self::new(
            ErrorKind::BrokenBody,
            format!("the request body could not be read to its end: {detail}"),
        )
    }

    /// 408/40800: the body took longer than `after_s` seconds.
    pub fn request_timeout(after_s: u64) -> Self {
        Self::new(
            ErrorKind::RequestTimeout,
            format!("the request body did not arrive within {after_s} s"),
        )
    }

    /// 400/40002.
    pub fn context_exceeded(prompt_tokens: usize, context_length: usize) -> Self {
        Self::new(
            ErrorKind::ContextExceeded,
            format!(
                "the prompt is {prompt_tokens} tokens but the model's context length is \
                 {context_length}; shorten the messages"
            ),
        )
    }

    /// 401/40100; `detail` says which of missing, malformed or wrong.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, detail)
    }

    /// 404/40400; the message lists the served ids.
    pub fn unknown_model<S: AsRef<str>>(requested: &str, served: &[S]) -> Self {
        let ids: Vec<&str> = served.iter().map(AsRef::as_ref).collect();
        Self::new(
            ErrorKind::UnknownModel,
            format!(
                "model {}: not served here; served models: {}",
                quote(requested),
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                }
            ),
        )
    }

    /// 404/40401.
    pub fn unknown_path(path: &str) -> Self {
        Self::new(ErrorKind::UnknownPath, format!("no such path: {path}"))
    }

    /// 405/40500 with `Allow: {allow}`.
    pub fn method_not_allowed(method: &str, path: &str, allow: &'static str) -> Self {
        let mut e = Self::new(
            ErrorKind::MethodNotAllowed,
            format!("method {method} is not allowed on {path}; use {allow}"),
        );
        e.allow = Some(allow);
        e
    }

    /// 413/41300.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            ErrorKind::BodyTooLarge,
            format!("the request body is over the limit of {limit} bytes"),
        )
    }

    /// 415/41500; `got` is the Content-Type header as sent.
    pub fn unsupported_media_type(got: &str) -> Self {
        Self::new(
            ErrorKind::UnsupportedMediaType,
            format!("Content-Type must be application/json, got {}", quote(got)),
        )
    }

    /// 503/50300 with `Retry-After: {retry_after_s}`.
    /// 503/50300 while the model loads: the port is open, the service not yet.
    pub fn loading(retry_after_s: u32) -> Self {
        let mut e = Self::new(ErrorKind::Busy, "loading: the model is not ready yet");
        e.retry_after = Some(retry_after_s);
        e
    }

    pub fn busy(retry_after_s: u32) -> Self {
        let mut e = Self::new(
            ErrorKind::Busy,
            format!("the server is at capacity; retry after {retry_after_s} s"),
        );
        e.retry_after = Some(retry_after_s);
        e
    }

    /// 500/50000.
    pub fn internal(detail: impl Display) -> Self {
        Self::new(ErrorKind::Internal, format!("internal error: {detail}"))
    }

    /// 502/50200: the upstream answered with `upstream_status` and something unusable.
    pub fn bad_gateway(upstream_status: u16, detail: impl Display) -> Self {
        Self::new(
            ErrorKind::BadGateway,
            format!("the upstream answered HTTP {upstream_status}: {detail}"),
        )
    }

    /// 504/50400.
    pub fn gateway_timeout(after_s: u32) -> Self {
        Self::new(
            ErrorKind::GatewayTimeout,
            format!("the upstream did not answer within {after_s} s"),
        )
    }

    /// The extra response headers this error needs (`Allow`, `Retry-After`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(allow) = self.allow {
            h.push(("allow", allow.to_string()));
        }
        if let Some(s) = self.retry_after {
            h.push(("retry-after", s.to_string()));
        }
        h
    }
}

/// A string as a JSON literal, cut at 64 chars, for quoting client input in messages.
pub(crate) fn quote(s: &str) -> String {
    let cut: String = s.chars().take(64).collect();
    let mut q = serde_json::to_string(&cut).unwrap_or_default();
    if cut.len() < s.len() {
        q.push('…');
    }
    q
}
