use crate::contract::{ApiError, ERROR_TABLE, ErrorKind};

#[test]
fn table_is_in_kind_order_and_complete() {
    assert_eq!(ERROR_TABLE.len(), ErrorKind::ALL.len());
    for (i, k) in ErrorKind::ALL.iter().enumerate() {
        assert_eq!(*k as usize, i);
        assert_eq!(ERROR_TABLE[i].kind, *k);
        assert_eq!(k.row().kind, *k);
        assert_eq!(ErrorKind::from_code(k.row().code), Some(*k));
    }
    let mut codes: Vec<u32> = ERROR_TABLE.iter().map(|r| r.code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), ERROR_TABLE.len(), "codes are unique");
    for r in ERROR_TABLE {
        // The code starts with the status: 40001 is a 400.
        assert_eq!(r.code / 100, u32::from(r.status), "{}", r.name);
    }
}

/// docs/CONTRACT.md's error table lists the same rows as ERROR_TABLE.
#[test]
fn doc_table_matches_the_const_table() {
    let doc = include_str!("../../../docs/CONTRACT.md");
    let rows: Vec<Vec<&str>> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter(|l| l.as_bytes()[0].is_ascii_digit())
        .map(|l| l.trim_end_matches(" |").split(" | ").collect())
        .collect();
    assert_eq!(rows.len(), ERROR_TABLE.len());
    for (doc, row) in rows.iter().zip(ERROR_TABLE) {
        assert_eq!(doc[0], row.status.to_string());
        assert_eq!(doc[1], row.code.to_string());
        assert_eq!(doc[2], row.name);
        assert_eq!(doc[3], row.when);
    }
}

/// The browser package's `ErrorCode` type (web/src/hearth.d.ts) lists the same codes and names.
#[test]
fn typescript_error_codes_match_the_const_table() {
    let types = include_str!("../../../web/src/hearth.d.ts");
    let rows: Vec<(&str, &str)> = types
        .lines()
        .filter_map(|l| l.trim().strip_prefix("| "))
        .filter_map(|l| l.split_once(" // "))
        .map(|(code, name)| (code.trim_end_matches(';'), name))
        .collect();
    let want: Vec<(String, &str)> = ERROR_TABLE
        .iter()
        .map(|r| (r.code.to_string(), r.name))
        .collect();
    let want: Vec<(&str, &str)> = want.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    assert_eq!(rows, want);
}

fn check(e: &ApiError, kind: ErrorKind, status: u16, code: u32, message: &str) {
    assert_eq!((e.status, e.code), (status, code), "{message}");
    assert_eq!(e.kind(), Some(kind));
    assert_eq!(e.message, message);
    assert_eq!(e.to_string(), message);
}

#[test]
fn every_constructor() {
    use ErrorKind::*;
    check(
        &ApiError::bad_json("invalid JSON at line 1, column 2: x"),
        BadJson,
        400,
        40000,
        "invalid JSON at line 1, column 2: x",
    );
    check(
        &ApiError::invalid_field(
            "messages[1].role",
            "expected one of system, user, assistant",
        ),
        InvalidField,
        400,
        40001,
        "messages[1].role: expected one of system, user, assistant",
    );
    check(
        &ApiError::context_exceeded(3000, 2048),
        ContextExceeded,
        400,
        40002,
        "the prompt is 3000 tokens but the model's context length is 2048; shorten the messages",
    );
    check(
        &ApiError::unauthorized("invalid API key"),
        Unauthorized,
        401,
        40100,
        "invalid API key",
    );
    check(
        &ApiError::unknown_model("gpt-4", &["Qwen/Qwen2.5-0.5B-Instruct", "x/y"]),
        UnknownModel,
        404,
        40400,
        "model \"gpt-4\": not served here; served models: Qwen/Qwen2.5-0.5B-Instruct, x/y",
    );
    check(
        &ApiError::unknown_model::<&str>("a", &[]),
        UnknownModel,
        404,
        40400,
        "model \"a\": not served here; served models: none",
    );
    check(
        &ApiError::unknown_path("/nope"),
        UnknownPath,
        404,
        40401,
        "no such path: /nope",
    );
    let e = ApiError::method_not_allowed("GET", "/api/v1/chat/completion_messages", "POST");
    check(
        &e,
        MethodNotAllowed,
        405,
        40500,
        "method GET is not allowed on /api/v1/chat/completion_messages; use POST",
    );
    assert_eq!(e.allow, Some("POST"));
    assert_eq!(e.headers(), vec![("allow", "POST".to_string())]);
    check(
        &ApiError::body_too_large(1 << 20),
        BodyTooLarge,
        413,
        41300,
        "the request body is over the limit of 1048576 bytes",
    );
    check(
        &ApiError::unsupported_media_type("text/plain"),
        UnsupportedMediaType,
        415,
        41500,
        "Content-Type must be application/json, got \"text/plain\"",
    );
    let e = ApiError::busy(2);
    check(
        &e,
        Busy,
        503,
        50300,
        "the server is at capacity; retry after 2 s",
    );
    assert_eq!(e.retry_after, Some(2));
    assert_eq!(e.headers(), vec![("retry-after", "2".to_string())]);
    check(
        &ApiError::internal("worker panicked"),
        Internal,
        500,
        50000,
        "internal error: worker panicked",
    );
    check(
        &ApiError::bad_gateway(500, "not JSON"),
        BadGateway,
        502,
        50200,
        "the upstream answered HTTP 500: not JSON",
    );
    check(
        &ApiError::gateway_timeout(30),
        GatewayTimeout,
        504,
        50400,
        "the upstream did not answer within 30 s",
    );
}

#[test]
fn plain_errors_carry_no_headers() {
    for k in ErrorKind::ALL {
        let e = ApiError::new(k, "x");
        assert!(e.headers().is_empty());
    }
}

#[test]
fn envelope() {
    let e = ApiError::invalid_field(
        "messages[1].role",
        "expected one of system, user, assistant",
    );
    assert_eq!(
        e.to_json(),
        r#"{"code":40001,"message":"messages[1].role: expected one of system, user, assistant","result":null}"#
    );
}
