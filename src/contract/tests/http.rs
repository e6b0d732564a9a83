use serde_json::Value;

use super::DOC_CURL_BODY;
use crate::contract::{
    Admitted, ApiError, DEFAULT_BODY_LIMIT, Endpoint, Incoming, Policy, ROUTES, admit, check_auth,
    check_body_size, check_content_type, error_body, model_matches, resolve_model, route,
};

#[test]
fn routes() {
    assert_eq!(
        route("POST", "/api/v1/chat/completion_messages"),
        Ok(Endpoint::CompletionMessages)
    );
    assert_eq!(
        route("POST", "/v1/chat/completions"),
        Ok(Endpoint::ChatCompletions)
    );
    assert_eq!(route("GET", "/api/v1/models?x=1"), Ok(Endpoint::Models));
    assert_eq!(route("GET", "/healthz"), Ok(Endpoint::Health));
    for &(e, m, p) in ROUTES {
        assert_eq!((e.method(), e.path()), (m, p));
    }
}

#[test]
fn unknown_path_and_wrong_method() {
    let e = route("POST", "/api/v1/chat/completions").unwrap_err();
    assert_eq!((e.status, e.code, e.allow), (404, 40401, None));
    assert_eq!(
        route("POST", "/api/v1/chat/completion_messages/")
            .unwrap_err()
            .code,
        40401
    );
    let e = route("GET", "/api/v1/chat/completion_messages").unwrap_err();
    assert_eq!((e.status, e.code, e.allow), (405, 40500, Some("POST")));
    let e = route("POST", "/api/v1/models").unwrap_err();
    assert_eq!((e.status, e.allow), (405, Some("GET")));
    // Methods are case-sensitive (RFC 9110).
    assert_eq!(
        route("post", "/v1/chat/completions").unwrap_err().code,
        40500
    );
}

#[test]
fn auth() {
    let keys = ["test-key".to_string(), "other".to_string()];
    assert!(check_auth(Some("Bearer test-key"), &keys).is_ok());
    assert!(check_auth(Some("bearer other"), &keys).is_ok());
    assert!(check_auth(Some("  Bearer   test-key "), &keys).is_ok());
    let msg = |h: Option<&str>| {
        let e = check_auth(h, &keys).unwrap_err();
        assert_eq!((e.status, e.code), (401, 40100));
        e.message
    };
    assert!(msg(None).starts_with("missing API key"));
    for bad in [
        "test-key",
        "Bearer",
        "Bearer ",
        "Basic dGVzdA==",
        "Bearer a b",
        "",
    ] {
        assert!(
            msg(Some(bad)).starts_with("malformed Authorization header"),
            "{bad:?}"
        );
    }
    for wrong in [
        "Bearer test-kez",
        "Bearer test-key2",
        "Bearer test-ke",
        "Bearer TEST-KEY",
    ] {
        assert_eq!(msg(Some(wrong)), "invalid API key", "{wrong:?}");
    }
    // No keys configured: no auth.
    assert!(check_auth::<String>(None, &[]).is_ok());
}

#[test]
fn content_type() {
    for ok in [
        None,
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("Application/JSON;charset=UTF-8"),
        Some(" application/json "),
    ] {
        assert!(check_content_type(ok).is_ok(), "{ok:?}");
    }
    for bad in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "application/json-patch+json",
        "application/jsonx",
    ] {
        let e = check_content_type(Some(bad)).unwrap_err();
        assert_eq!((e.status, e.code), (415, 41500), "{bad:?}");
    }
}

#[test]
fn body_size() {
    assert!(check_body_size(DEFAULT_BODY_LIMIT, DEFAULT_BODY_LIMIT).is_ok());
    let e = check_body_size(DEFAULT_BODY_LIMIT + 1, DEFAULT_BODY_LIMIT).unwrap_err();
    assert_eq!((e.status, e.code), (413, 41300));
}

#[test]
fn models_match_by_full_id_or_last_segment() {
    assert!(model_matches(
        "qwen2.5-0.5b-instruct",
        "Qwen/Qwen2.5-0.5B-Instruct"
    ));
    assert!(model_matches(
        "QWEN/qwen2.5-0.5B-INSTRUCT",
        "Qwen/Qwen2.5-0.5B-Instruct"
    ));
    assert!(model_matches("tiny", "tiny"));
    assert!(!model_matches(
        "other/Qwen2.5-0.5B-Instruct",
        "Qwen/Qwen2.5-0.5B-Instruct"
    ));
    assert!(!model_matches("Qwen2.5", "Qwen/Qwen2.5-0.5B-Instruct"));
    assert!(!model_matches("", "Qwen/Qwen2.5-0.5B-Instruct"));
    let served = ["a/x", "x"];
    assert_eq!(resolve_model("X", &served), Ok(1), "a full-id match wins");
    assert_eq!(resolve_model("A/X", &served), Ok(0));
    let e = resolve_model("y", &served).unwrap_err();
    assert_eq!((e.status, e.code), (404, 40400));
    assert!(e.message.contains("a/x, x"));
}

fn policy_admit(
    method: &str,
    path: &str,
    auth: Option<&str>,
    ct: Option<&str>,
    body: &[u8],
) -> Result<Admitted, ApiError> {
    let keys = vec!["test-key".to_string()];
    let served = vec!["hearth-test/tiny-gqa-tied".to_string()];
    let policy = Policy {
        keys: &keys,
        body_limit: DEFAULT_BODY_LIMIT,
        served: &served,
    };
    admit(
        &Incoming {
            method,
            path,
            authorization: auth,
            content_type: ct,
            body,
        },
        &policy,
    )
}

const CM: &str = "/api/v1/chat/completion_messages";
const KEY: Option<&str> = Some("Bearer test-key");
const JSON: Option<&str> = Some("application/json");

#[test]
fn admit_order() {
    let code = |r: Result<Admitted, ApiError>| r.unwrap_err().code;
    // Route before auth, auth before content type, content type before size, size before JSON.
    assert_eq!(code(policy_admit("POST", "/nope", None, None, b"")), 40401);
    assert_eq!(code(policy_admit("GET", CM, None, None, b"")), 40500);
    assert_eq!(
        code(policy_admit("POST", CM, None, Some("text/plain"), b"{")),
        40100
    );
    let big = vec![b' '; DEFAULT_BODY_LIMIT + 1];
    assert_eq!(
        code(policy_admit("POST", CM, KEY, Some("text/plain"), &big)),
        41500
    );
    assert_eq!(code(policy_admit("POST", CM, KEY, JSON, &big)), 41300);
    assert_eq!(code(policy_admit("POST", CM, KEY, JSON, b"{,}")), 40000);
    assert_eq!(code(policy_admit("POST", CM, KEY, JSON, b"{}")), 40001);
    // The document's example names a model that is not served.
    let e = policy_admit("POST", CM, KEY, JSON, DOC_CURL_BODY.as_bytes()).unwrap_err();
    assert_eq!((e.status, e.code), (404, 40400));
    assert!(e.message.contains("hearth-test/tiny-gqa-tied"));
}

#[test]
fn admit_success() {
    let body = DOC_CURL_BODY.replace("Qwen2-7B-Instruct", "TINY-GQA-TIED");
    match policy_admit("POST", CM, KEY, None, body.as_bytes()).unwrap() {
        Admitted::Completion { request, model } => {
            assert_eq!(model, 0);
            assert_eq!(request.max_tokens, Some(100));
        }
        other => panic!("{other:?}"),
    }
    let body = br#"{"model":"tiny-gqa-tied","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}"#;
    match policy_admit("POST", "/v1/chat/completions", KEY, JSON, body).unwrap() {
        Admitted::ChatCompletion { request, model: 0 } => assert!(request.include_usage),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        policy_admit("GET", "/healthz", None, None, b""),
        Ok(Admitted::Health)
    );
    assert_eq!(
        policy_admit("GET", "/api/v1/models", KEY, Some("text/plain"), b""),
        Ok(Admitted::Models)
    );
    assert_eq!(
        policy_admit("GET", "/api/v1/models", None, None, b"")
            .unwrap_err()
            .code,
        40100
    );
}

#[test]
fn error_bodies_follow_the_path() {
    let e = ApiError::unauthorized("invalid API key");
    let native: Value = serde_json::from_str(&error_body(CM, &e)).unwrap();
    assert_eq!(native["code"], 40100);
    assert_eq!(native["result"], Value::Null);
    let openai: Value = serde_json::from_str(&error_body("/v1/chat/completions", &e)).unwrap();
    assert_eq!(openai["error"]["code"], "invalid_api_key");
}
