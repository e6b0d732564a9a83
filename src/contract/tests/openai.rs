use serde_json::{Value, json};

use crate::contract::openai::{parse_body, parse_request};
use crate::contract::{
    Answer, ApiError, ChatCompletion, ChatCompletionChunk, ErrorKind, FinishReason, OpenAiUsage,
};

fn parse(body: Value) -> Result<crate::contract::OpenAiRequest, ApiError> {
    parse_request(body.as_object().unwrap())
}

fn base() -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn same_rules_as_completion_messages() {
    let mut b = base();
    b["temperature"] = json!(3);
    let e = parse(b).unwrap_err();
    assert_eq!((e.status, e.code), (400, 40001));
    assert_eq!(e.message, "temperature: must be between 0 and 2, got 3");
    let r = parse(base()).unwrap();
    assert!(!r.include_usage);
    assert_eq!(r.request.n, 1);
}

#[test]
fn max_completion_tokens_is_an_alias() {
    let mut b = base();
    b["max_completion_tokens"] = json!(5);
    assert_eq!(parse(b.clone()).unwrap().request.max_tokens, Some(5));
    b["max_tokens"] = json!(5);
    assert_eq!(parse(b.clone()).unwrap().request.max_tokens, Some(5));
    b["max_tokens"] = json!(6);
    assert_eq!(
        parse(b).unwrap_err().message,
        "max_completion_tokens: conflicts with max_tokens (5 vs 6); send one of them"
    );
    let mut b = base();
    b["max_completion_tokens"] = json!(0);
    assert_eq!(
        parse(b).unwrap_err().message,
        "max_completion_tokens: expected an integer >= 1, got 0"
    );
}

#[test]
fn developer_role_is_system_and_extras_are_ignored() {
    let b = json!({"model": "m", "messages": [{"role": "developer", "content": "be brief"},
                   {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
                   "tools": [], "tool_choice": "none", "logprobs": false, "response_format": {"type": "text"}});
    let r = parse(b).unwrap().request;
    assert_eq!(r.messages[0].role, "system");
    assert_eq!(r.messages[1].content, "ab");
    let b = json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]});
    assert_eq!(
        parse(b).unwrap_err().message,
        "messages[0].role: expected one of system, developer, user, assistant, got \"tool\""
    );
}

#[test]
fn stream_options() {
    let mut b = base();
    b["stream"] = json!(true);
    b["stream_options"] = json!({"include_usage": true});
    let r = parse(b.clone()).unwrap();
    assert!(r.include_usage && r.request.stream);
    b["stream_options"] = json!({"include_usage": "yes"});
    assert!(
        parse(b.clone())
            .unwrap_err()
            .message
            .starts_with("stream_options.include_usage: expected true or false")
    );
    b["stream_options"] = json!(true);
    assert_eq!(
        parse(b).unwrap_err().message,
        "stream_options: expected an object, got true"
    );
}

#[test]
fn raw_body_with_trailing_comma() {
    let r = parse_body(br#"{"model": "m", "messages": [{"role": "user", "content": "x",},],}"#)
        .unwrap();
    assert_eq!(r.request.messages[0].content, "x");
    assert_eq!(parse_body(b"{").unwrap_err().code, 40000);
}

#[test]
fn completion_shape() {
    let c = ChatCompletion::new(
        "cmpl-1",
        "m",
        9,
        4,
        &[
            Answer {
                text: "a".into(),
                reasoning: None,
                tokens: vec![1, 2],
                finish_reason: FinishReason::Stop,
            },
            Answer {
                text: "b".into(),
                reasoning: None,
                tokens: vec![1, 2, 3],
                finish_reason: FinishReason::Length,
            },
        ],
    );
    assert_eq!(
        c.to_json(),
        r#"{"id":"cmpl-1","object":"chat.completion","created":9,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":"b"},"finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":5,"total_tokens":9}}"#
    );
}

#[test]
fn chunk_shapes() {
    let head = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":"#;
    assert_eq!(
        ChatCompletionChunk::role("c", "m", 1, 0).to_sse(),
        format!(
            "data: {head}[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n"
        )
    );
    assert_eq!(
        serde_json::to_string(&ChatCompletionChunk::content("c", "m", 1, 2, ("hé", false)))
            .unwrap(),
        format!(
            "{head}[{{\"index\":2,\"delta\":{{\"content\":\"hé\"}},\"finish_reason\":null}}]}}"
        )
    );
    assert_eq!(
        serde_json::to_string(&ChatCompletionChunk::finish(
            "c",
            "m",
            1,
            0,
            FinishReason::Length
        ))
        .unwrap(),
        format!("{head}[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"length\"}}]}}")
    );
    assert_eq!(
        serde_json::to_string(&ChatCompletionChunk::usage(
            "c",
            "m",
            1,
            OpenAiUsage::new(3, 4)
        ))
        .unwrap(),
        format!(
            "{head}[],\"usage\":{{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}}}"
        )
    );
}

#[test]
fn error_shape_for_every_row() {
    for k in ErrorKind::ALL {
        let e = ApiError::new(k, "m");
        let v: Value = serde_json::from_str(&e.to_openai_json()).unwrap();
        let want_type = if e.status >= 500 {
            "server_error"
        } else {
            "invalid_request_error"
        };
        assert_eq!(v["error"]["type"], want_type, "{k:?}");
        assert_eq!(v["error"]["code"], k.row().openai_code);
        assert_eq!(v["error"]["message"], "m");
    }
}

#[test]
fn error_param() {
    let e = ApiError::invalid_field(
        "messages[0].content[1].type",
        "only \"text\" parts are supported",
    );
    assert_eq!(
        e.to_openai_json(),
        r#"{"error":{"message":"messages[0].content[1].type: only \"text\" parts are supported","type":"invalid_request_error","param":"messages[0].content[1].type","code":"invalid_value"}}"#
    );
    let v: Value =
        serde_json::from_str(&ApiError::unknown_model("x", &["a"]).to_openai_json()).unwrap();
    assert_eq!(v["error"]["param"], "model");
    assert_eq!(v["error"]["code"], "model_not_found");
    let v: Value =
        serde_json::from_str(&ApiError::unauthorized("invalid API key").to_openai_json()).unwrap();
    assert_eq!(v["error"]["param"], Value::Null);
    assert_eq!(v["error"]["code"], "invalid_api_key");
}
