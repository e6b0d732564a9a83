//! The request rules before the engine: routing, API keys, Content-Type, body size, and
//! [`admit`], which applies all of them in one fixed order so every runtime answers a
//! bad request with the same error:
//!
//! 1. route: unknown path 404/40401, wrong method 405/40500 (+`Allow`);
//! 2. API key (not for `/healthz`): 401/40100;
//! 3. Content-Type (endpoints with a body): 415/41500;
//! 4. body size: 413/41300 (a server may also check Content-Length before reading);
//! 5. JSON: 400/40000; 6. fields: 400/40001; 7. model: 404/40400.
//!
//! The context check (40002) needs the tokenizer and capacity (50300) the queue, so they
//! stay with the runtime: see [`super::generation_budget`] and [`ApiError::busy`].

use super::error::ApiError;
use super::openai::{self, OpenAiRequest};
use super::request::{CompletionRequest, parse_completion_body};
use super::resolve_model;

/// The default body limit: 1 MiB. A body of exactly this many bytes is accepted.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// The endpoints every runtime serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /api/v1/chat/completion_messages`
    CompletionMessages,
    /// `POST /v1/chat/completions` (OpenAI shape)
    ChatCompletions,
    /// `GET /api/v1/models`
    Models,
    /// `GET /healthz`
    Health,
}

/// (endpoint, method, path): the one routing table.
pub const ROUTES: &[(Endpoint, &str, &str)] = &[
    (
        Endpoint::CompletionMessages,
        "POST",
        "/api/v1/chat/completion_messages",
    ),
    (Endpoint::ChatCompletions, "POST", "/v1/chat/completions"),
    (Endpoint::Models, "GET", "/api/v1/models"),
    (Endpoint::Health, "GET", "/healthz"),
];

impl Endpoint {
    fn entry(self) -> &'static (Endpoint, &'static str, &'static str) {
        ROUTES.iter().find(|r| r.0 == self).unwrap_or(&ROUTES[0])
    }

    pub fn method(self) -> &'static str {
        self.entry().1
    }

    pub fn path(self) -> &'static str {
        self.entry().2
    }

    /// Health checks answer without a key (load balancers and uptime probes have
    /// none); everything else needs one whenever keys are configured.
    pub fn requires_auth(self) -> bool {
        self != Endpoint::Health
    }

    /// Whether the endpoint reads a JSON body (and so checks Content-Type and size).
    pub fn has_body(self) -> bool {
        self.method() == "POST"
    }
}

/// Finds the endpoint for a method and path (a query string is ignored; paths match
/// exactly, so a trailing slash is a different path).
pub fn route(method: &str, path: &str) -> Result<Endpoint, ApiError> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let Some(&(endpoint, allow, _)) = ROUTES.iter().find(|r| r.2 == path) else {
        return Err(ApiError::unknown_path(path));
    };
    if method != allow {
        return Err(ApiError::method_not_allowed(method, path, allow));
    }
    Ok(endpoint)
}

/// The error body for a request to `path`: OpenAI's shape under `/v1/` (OpenAI clients
/// parse it there, unknown paths included), the envelope elsewhere. Both are JSON.
pub fn error_body(path: &str, e: &ApiError) -> String {
    if path.starts_with("/v1/") {
        e.to_openai_json()
    } else {
        e.to_json()
    }
}

/// Checks `Authorization: Bearer KEY` against the configured keys (none configured:
/// everything passes). The scheme is case-insensitive (RFC 7235); keys are compared in
/// constant time, and every key is compared so timing does not tell which one is close.
pub fn check_auth<S: AsRef<str>>(authorization: Option<&str>, keys: &[S]) -> Result<(), ApiError> {
    if keys.is_empty() {
        return Ok(());
    }
    let Some(header) = authorization else {
        return Err(ApiError::unauthorized(
            "missing API key: send the header Authorization: Bearer YOUR_API_KEY",
        ));
    };
    let header = header.trim();
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => "",
    };
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(ApiError::unauthorized(
            "malformed Authorization header: expected Bearer YOUR_API_KEY",
        ));
    }
    let mut ok = false;
    for key in keys {
        ok |= constant_time_eq(token.as_bytes(), key.as_ref().as_bytes());
    }
    if ok {
        Ok(())
    } else {
        Err(ApiError::unauthorized("invalid API key"))
    }
}

/// Equality whose time depends only on `key`'s length, not on where `given` differs.
fn constant_time_eq(given: &[u8], key: &[u8]) -> bool {
    let mut diff = given.len() ^ key.len();
    for (i, &k) in key.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(0);
        diff |= usize::from(std::hint::black_box(g ^ k));
    }
    std::hint::black_box(diff) == 0
}

/// `application/json` with any parameters (`; charset=utf-8`), case-insensitive, or no
/// header at all. Anything else, an empty value included, is 415.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let Some(value) = content_type else {
        return Ok(());
    };
    let media = value.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(value))
    }
}

/// 413 when the body (or its announced Content-Length) is over `limit` bytes.
pub fn check_body_size(len: usize, limit: usize) -> Result<(), ApiError> {
    if len > limit {
        Err(ApiError::body_too_large(limit))
    } else {
        Ok(())
    }
}

/// A request as the runtime received it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub method: &'a str,
    /// May carry a query string.
    pub path: &'a str,
    pub authorization: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// A request as a runtime read it, owned; the contract reads it through [`Received::incoming`].
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub method: String,
    /// May carry a query string.
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            method: &self.method,
            path: &self.path,
            authorization: self.authorization.as_deref(),
            content_type: self.content_type.as_deref(),
            body: &self.body,
        }
    }
}

/// What the runtime is configured with.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// Empty: no auth.
    pub keys: &'a [String],
    pub body_limit: usize,
    /// Served model ids, e.g. `Qwen/Qwen2.5-0.5B-Instruct`.
    pub served: &'a [String],
}

/// A request that passed every check this module can make.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// completion_messages; `model` indexes `Policy::served`.
    Completion {
        request: CompletionRequest,
        model: usize,
    },
    /// OpenAI chat completions; `model` indexes `Policy::served`.
    ChatCompletion {
        request: OpenAiRequest,
        model: usize,
    },
    Models,
    Health,
}

/// The rules that need no body (route, key, content type), in [`admit`]'s order. A runtime
/// that reads the body itself applies these first, so that a stranger's slow or broken body
/// is never waited on, or answered, before the key is checked.
pub fn admit_head(req: &Incoming, policy: &Policy) -> Result<Endpoint, ApiError> {
    let endpoint = route(req.method, req.path)?;
    if endpoint.requires_auth() {
        check_auth(req.authorization, policy.keys)?;
    }
    if endpoint.has_body() {
        check_content_type(req.content_type)?;
    }
    Ok(endpoint)
}

/// Applies the request rules in the module's fixed order (see the top of this file).
/// On error, answer with `e.status`, `e.headers()` and [`error_body`].
pub fn admit(req: &Incoming, policy: &Policy) -> Result<Admitted, ApiError> {
    let endpoint = admit_head(req, policy)?;
    if endpoint.has_body() {
        check_body_size(req.body.len(), policy.body_limit)?;
    }
    Ok(match endpoint {
        Endpoint::CompletionMessages => {
            let request = parse_completion_body(req.body)?;
            let model = resolve_model(&request.model, policy.served)?;
            Admitted::Completion { request, model }
        }
        Endpoint::ChatCompletions => {
            let request = openai::parse_body(req.body)?;
            let model = resolve_model(&request.request.model, policy.served)?;
            Admitted::ChatCompletion { request, model }
        }
        Endpoint::Models => Admitted::Models,
        Endpoint::Health => Admitted::Health,
    })
}
