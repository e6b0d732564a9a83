use serde_json::{Value, json};

use super::DOC_CURL_BODY;
use crate::contract::{CompletionRequest, generation_budget, parse_completion_body};
use crate::text::Message;

fn base() -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
}

fn with(field: &str, v: Value) -> Value {
    let mut b = base();
    b[field] = v;
    b
}

fn parse(body: Value) -> CompletionRequest {
    CompletionRequest::from_json(&body).unwrap_or_else(|e| panic!("{body}: {e}"))
}

/// The 40001 message for `body`.
fn fail(body: Value) -> String {
    let e = CompletionRequest::from_json(&body).expect_err(&body.to_string());
    assert_eq!((e.status, e.code), (400, 40001), "{body}: {e}");
    e.message
}

fn msg(role: &str, content: &str) -> Message {
    Message {
        role: role.into(),
        content: content.into(),
    }
}

#[test]
fn defaults() {
    let r = parse(base());
    assert_eq!(
        r,
        CompletionRequest {
            model: "m".into(),
            messages: vec![msg("user", "hi")],
            max_tokens: None,
            temperature: 1.0,
            top_p: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            n: 1,
            stop: vec![],
            seed: None,
            stream: false,
            enable_thinking: None,
        }
    );
}

#[test]
fn every_field_set() {
    let r = parse(json!({
        "model": "Qwen/Qwen2.5-0.5B-Instruct",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                     {"role": "assistant", "content": "a"}],
        "max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "presence_penalty": 1,
        "frequency_penalty": -1.5, "n": 3, "stop": ["x", "y"], "seed": 42, "stream": true
    }));
    assert_eq!(
        r.messages,
        vec![msg("system", "s"), msg("user", "u"), msg("assistant", "a")]
    );
    assert_eq!(r.max_tokens, Some(7));
    assert_eq!((r.temperature, r.top_p), (0.5, 0.9));
    assert_eq!((r.presence_penalty, r.frequency_penalty), (1.0, -1.5));
    assert_eq!((r.n, r.seed, r.stream), (3, Some(42), true));
    assert_eq!(r.stop, vec!["x", "y"]);
}

#[test]
fn the_documents_curl_body_validates() {
    let r = parse_completion_body(DOC_CURL_BODY.as_bytes()).unwrap();
    assert_eq!(r.model, "Qwen2-7B-Instruct");
    assert_eq!(
        r.messages,
        vec![msg("user", "Who won the world series in 2020?")]
    );
    assert_eq!(
        (r.temperature, r.top_p, r.n, r.max_tokens),
        (1.0, 1.0, 1, Some(100))
    );
}

#[test]
fn raw_body_errors_are_json_errors() {
    assert_eq!(parse_completion_body(b"{").unwrap_err().code, 40000);
    assert_eq!(parse_completion_body(b"[]").unwrap_err().code, 40000);
    assert_eq!(parse_completion_body(b"{}").unwrap_err().code, 40001);
    assert_eq!(
        CompletionRequest::from_json(&json!([])).unwrap_err().code,
        40000
    );
}

#[test]
fn unknown_fields_ignored_and_null_means_absent() {
    let mut b = base();
    for f in [
        "max_tokens",
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "stop",
        "seed",
        "stream",
    ] {
        b[f] = Value::Null;
    }
    b["tools"] = json!([{"type": "function"}]);
    b["user"] = json!("u");
    b["messages"][0]["name"] = json!("bob");
    assert_eq!(parse(b), parse(base()));
}

#[test]
fn model() {
    assert_eq!(fail(json!({"messages": []})), "model: required");
    assert_eq!(fail(with("model", Value::Null)), "model: required");
    assert_eq!(
        fail(with("model", json!(7))),
        "model: expected a string, got 7"
    );
    assert_eq!(fail(with("model", json!(" "))), "model: must not be empty");
}

#[test]
fn messages_shape() {
    assert_eq!(fail(json!({"model": "m"})), "messages: required");
    assert_eq!(
        fail(with("messages", json!([]))),
        "messages: must contain at least one message"
    );
    assert_eq!(
        fail(with("messages", json!("hi"))),
        "messages: expected a non-empty array of messages, got the string \"hi\""
    );
    assert_eq!(
        fail(with("messages", json!(["hi"]))),
        "messages[0]: expected an object with role and content, got the string \"hi\""
    );
}

#[test]
fn message_role() {
    let two = |role: Value| {
        with(
            "messages",
            json!([{"role": "user", "content": "a"}, {"role": role, "content": "b"}]),
        )
    };
    assert_eq!(
        fail(two(json!("tool"))),
        "messages[1].role: expected one of system, user, assistant, got \"tool\""
    );
    assert!(
        fail(two(json!("User")))
            .starts_with("messages[1].role: expected one of system, user, assistant")
    );
    // `developer` is an OpenAI-only alias.
    assert!(fail(two(json!("developer"))).starts_with("messages[1].role: expected one of"));
    assert_eq!(
        fail(two(json!(1))),
        "messages[1].role: expected one of system, user, assistant, got 1"
    );
    assert_eq!(
        fail(with("messages", json!([{"content": "a"}]))),
        "messages[0].role: required"
    );
}

#[test]
fn message_content() {
    assert_eq!(
        fail(with("messages", json!([{"role": "user"}]))),
        "messages[0].content: required"
    );
    assert_eq!(
        fail(with("messages", json!([{"role": "user", "content": null}]))),
        "messages[0].content: required"
    );
    assert_eq!(
        fail(with("messages", json!([{"role": "user", "content": 5}]))),
        "messages[0].content: expected a string or an array of text parts, got 5"
    );
    let r = parse(with("messages", json!([{"role": "user", "content": ""}])));
    assert_eq!(r.messages[0].content, "");
}

#[test]
fn content_parts_are_joined_without_separator() {
    let r = parse(with(
        "messages",
        json!([{"role": "user", "content": [
            {"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}, {"type": "text", "text": "!"}
        ]}]),
    ));
    assert_eq!(r.messages, vec![msg("user", "Hello, world!")]);
    let r = parse(with("messages", json!([{"role": "user", "content": []}])));
    assert_eq!(r.messages[0].content, "");
}

#[test]
fn content_part_errors_name_the_index() {
    let parts = |p: Value| {
        with(
            "messages",
            json!([{"role": "user", "content": "x"}, {"role": "user", "content": p}]),
        )
    };
    assert_eq!(
        fail(parts(
            json!([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}])
        )),
        "messages[1].content[1].type: only \"text\" parts are supported, got the string \"image_url\""
    );
    assert_eq!(
        fail(parts(json!([{"text": "a"}]))),
        "messages[1].content[0].type: required"
    );
    assert_eq!(
        fail(parts(json!([{"type": "text"}]))),
        "messages[1].content[0].text: required"
    );
    assert_eq!(
        fail(parts(json!([{"type": "text", "text": 3}]))),
        "messages[1].content[0].text: expected a string, got 3"
    );
    assert!(fail(parts(json!(["a"]))).starts_with("messages[1].content[0]: expected a part"));
}

#[test]
fn max_tokens() {
    assert_eq!(parse(with("max_tokens", json!(1))).max_tokens, Some(1));
    assert_eq!(
        parse(with("max_tokens", json!(4294967295u64))).max_tokens,
        Some(u32::MAX)
    );
    assert_eq!(parse(with("max_tokens", json!(3.0))).max_tokens, Some(3));
    assert_eq!(
        fail(with("max_tokens", json!(0))),
        "max_tokens: expected an integer >= 1, got 0"
    );
    assert_eq!(
        fail(with("max_tokens", json!(-5))),
        "max_tokens: expected an integer >= 1, got -5"
    );
    assert_eq!(
        fail(with("max_tokens", json!(0.5))),
        "max_tokens: expected an integer >= 1, got 0.5"
    );
    assert_eq!(
        fail(with("max_tokens", json!("10"))),
        "max_tokens: expected an integer >= 1, got the string \"10\""
    );
    assert_eq!(
        fail(with("max_tokens", json!(4294967296u64))),
        "max_tokens: must be at most 4294967295, got 4294967296"
    );
}

#[test]
fn temperature() {
    assert_eq!(parse(with("temperature", json!(0))).temperature, 0.0);
    assert_eq!(parse(with("temperature", json!(2))).temperature, 2.0);
    assert_eq!(parse(with("temperature", json!(0.2))).temperature, 0.2);
    assert_eq!(
        fail(with("temperature", json!(3))),
        "temperature: must be between 0 and 2, got 3"
    );
    assert_eq!(
        fail(with("temperature", json!(2.01))),
        "temperature: must be between 0 and 2, got 2.01"
    );
    assert_eq!(
        fail(with("temperature", json!(-0.1))),
        "temperature: must be between 0 and 2, got -0.1"
    );
    assert_eq!(
        fail(with("temperature", json!("1"))),
        "temperature: expected a number between 0 and 2, got the string \"1\""
    );
    assert_eq!(
        fail(with("temperature", json!(true))),
        "temperature: expected a number between 0 and 2, got true"
    );
}

#[test]
fn top_p() {
    assert_eq!(parse(with("top_p", json!(1))).top_p, 1.0);
    assert_eq!(parse(with("top_p", json!(1e-9))).top_p, 1e-9);
    assert_eq!(
        fail(with("top_p", json!(0))),
        "top_p: must be greater than 0 and at most 1, got 0"
    );
    assert_eq!(
        fail(with("top_p", json!(-0.5))),
        "top_p: must be greater than 0 and at most 1, got -0.5"
    );
    assert_eq!(
        fail(with("top_p", json!(1.01))),
        "top_p: must be greater than 0 and at most 1, got 1.01"
    );
    assert_eq!(
        fail(with("top_p", json!(1e-50))),
        "top_p: must be greater than 0 and at most 1, got 1e-50"
    );
    assert_eq!(
        fail(with("top_p", json!([1]))),
        "top_p: expected a number greater than 0 and at most 1, got an array"
    );
}

#[test]
fn penalties() {
    for f in ["presence_penalty", "frequency_penalty"] {
        assert_eq!(parse(with(f, json!(-2))), penalty(f, -2.0));
        assert_eq!(parse(with(f, json!(2))), penalty(f, 2.0));
        assert_eq!(parse(with(f, json!(0.5))), penalty(f, 0.5));
        assert_eq!(
            fail(with(f, json!(2.5))),
            format!("{f}: must be between -2 and 2, got 2.5")
        );
        assert_eq!(
            fail(with(f, json!(-3))),
            format!("{f}: must be between -2 and 2, got -3")
        );
        assert_eq!(
            fail(with(f, json!({}))),
            format!("{f}: expected a number between -2 and 2, got an object")
        );
    }
}

fn penalty(field: &str, x: f32) -> CompletionRequest {
    let mut r = parse(base());
    if field == "presence_penalty" {
        r.presence_penalty = x;
    } else {
        r.frequency_penalty = x;
    }
    r
}

#[test]
fn n() {
    assert_eq!(parse(with("n", json!(1))).n, 1);
    assert_eq!(parse(with("n", json!(8))).n, 8);
    assert_eq!(parse(with("n", json!(2.0))).n, 2);
    assert_eq!(
        fail(with("n", json!(0))),
        "n: must be between 1 and 8, got 0"
    );
    assert_eq!(
        fail(with("n", json!(9))),
        "n: must be between 1 and 8, got 9"
    );
    assert_eq!(
        fail(with("n", json!(1.5))),
        "n: expected an integer between 1 and 8, got 1.5"
    );
    assert_eq!(
        fail(with("n", json!("2"))),
        "n: expected an integer between 1 and 8, got the string \"2\""
    );
}

#[test]
fn stop() {
    assert_eq!(parse(with("stop", json!("\n"))).stop, vec!["\n"]);
    assert_eq!(
        parse(with("stop", json!(["a", "b", "c", "d"]))).stop,
        vec!["a", "b", "c", "d"]
    );
    assert!(parse(with("stop", json!([]))).stop.is_empty());
    assert_eq!(
        fail(with("stop", json!(["a", "b", "c", "d", "e"]))),
        "stop: at most 4 strings, got 5"
    );
    assert_eq!(
        fail(with("stop", json!(""))),
        "stop: expected a non-empty string, got the string \"\""
    );
    assert_eq!(
        fail(with("stop", json!(["a", ""]))),
        "stop[1]: expected a non-empty string, got the string \"\""
    );
    assert_eq!(
        fail(with("stop", json!(["a", 1]))),
        "stop[1]: expected a non-empty string, got 1"
    );
    assert_eq!(
        fail(with("stop", json!(3))),
        "stop: expected a string or an array of at most 4 strings, got 3"
    );
}

#[test]
fn seed() {
    assert_eq!(parse(with("seed", json!(0))).seed, Some(0));
    assert_eq!(parse(with("seed", json!(u64::MAX))).seed, Some(u64::MAX));
    assert_eq!(parse(with("seed", json!(7.0))).seed, Some(7));
    let want = "seed: expected an integer between 0 and 18446744073709551615, got";
    assert_eq!(fail(with("seed", json!(-1))), format!("{want} -1"));
    assert_eq!(fail(with("seed", json!(1.5))), format!("{want} 1.5"));
    assert_eq!(fail(with("seed", json!(1e20))), format!("{want} 1e+20"));
    assert_eq!(
        fail(with("seed", json!("1"))),
        format!("{want} the string \"1\"")
    );
}

#[test]
fn stream() {
    assert!(parse(with("stream", json!(true))).stream);
    assert!(!parse(with("stream", json!(false))).stream);
    assert_eq!(
        fail(with("stream", json!("true"))),
        "stream: expected true or false, got the string \"true\""
    );
    assert_eq!(
        fail(with("stream", json!(1))),
        "stream: expected true or false, got 1"
    );
}

#[test]
fn first_failing_field_in_fixed_order_is_reported() {
    let b = json!({"model": 1, "messages": [], "temperature": 9});
    assert!(fail(b).starts_with("model:"));
    let b = json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": -1, "temperature": 9});
    assert!(fail(b).starts_with("temperature:"));
}

#[test]
fn long_strings_are_cut_in_messages() {
    let m = fail(with("stream", json!("x".repeat(500))));
    assert!(m.len() < 120, "{m}");
    assert!(m.ends_with("…"), "{m}");
}

#[test]
fn budget() {
    assert_eq!(generation_budget(10, None, 2048).unwrap(), 2038);
    assert_eq!(generation_budget(10, Some(5), 2048).unwrap(), 5);
    assert_eq!(generation_budget(2040, Some(100), 2048).unwrap(), 8);
    assert_eq!(generation_budget(2047, None, 2048).unwrap(), 1);
    let e = generation_budget(2048, Some(1), 2048).unwrap_err();
    assert_eq!((e.status, e.code), (400, 40002));
    assert_eq!(
        e.message,
        "the prompt is 2048 tokens but the model's context length is 2048; shorten the messages"
    );
    assert_eq!(generation_budget(5000, None, 2048).unwrap_err().code, 40002);
}
