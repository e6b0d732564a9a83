use serde_json::json;

use crate::contract::{
    Answer, ApiError, CompletionResult, Envelope, FinishReason, HealthResult, ModelInfo,
    ModelsResult, SSE_DONE, StreamResult, Usage, completion_id, sse_error, sse_event, sse_success,
};

fn answer(text: &str, finish_reason: FinishReason, completion_tokens: u32) -> Answer {
    Answer {
        text: text.into(),
        reasoning: None,
        tokens: (0..completion_tokens).collect(),
        finish_reason,
    }
}

#[test]
fn completion_matches_the_documents_example_field_order() {
    let r = CompletionResult::new(
        "uniqueCompletionId",
        "model",
        1721698948,
        20,
        &[answer("The generated answer", FinishReason::Stop, 14)],
    );
    assert_eq!(
        Envelope::success(r).to_json(),
        r#"{"code":0,"message":"success","result":{"id":"uniqueCompletionId","model":"model","answer":"The generated answer","usage":{"prompt_tokens":20,"completion_tokens":14,"total_tokens":34,"finish_reason":"stop"},"created_at":1721698948}}"#
    );
}

#[test]
fn n_answers_give_choices() {
    let r = CompletionResult::new(
        "id",
        "m",
        1,
        5,
        &[
            answer("a", FinishReason::Length, 3),
            answer("b", FinishReason::Stop, 2),
        ],
    );
    assert_eq!(r.answer, "a");
    assert_eq!(r.usage.completion_tokens, 5);
    assert_eq!(r.usage.total_tokens, 10);
    assert_eq!(r.usage.finish_reason, FinishReason::Length);
    assert_eq!(
        serde_json::to_value(&r).unwrap()["choices"],
        json!([
            {"index": 0, "answer": "a", "finish_reason": "length", "completion_tokens": 3},
            {"index": 1, "answer": "b", "finish_reason": "stop", "completion_tokens": 2}
        ])
    );
    let text = serde_json::to_string(&r).unwrap();
    assert!(text.find("\"created_at\"").unwrap() < text.find("\"choices\"").unwrap());
}

#[test]
fn finish_reasons() {
    for (f, s) in [
        (FinishReason::Stop, "stop"),
        (FinishReason::Length, "length"),
        (FinishReason::Abort, "abort"),
    ] {
        assert_eq!(serde_json::to_value(f).unwrap(), json!(s));
        assert_eq!(f.as_str(), s);
    }
}

#[test]
fn stream_events() {
    let mut ev = StreamResult {
        id: "cmpl-1".into(),
        model: "m".into(),
        delta: "Hé".into(),
        reasoning_delta: None,
        created_at: 7,
        index: None,
        usage: None,
    };
    assert_eq!(
        sse_success(&ev),
        "data: {\"code\":0,\"message\":\"success\",\"result\":{\"id\":\"cmpl-1\",\"model\":\"m\",\"delta\":\"Hé\",\"created_at\":7}}\n\n"
    );
    ev.index = Some(1);
    ev.delta = String::new();
    ev.usage = Some(Usage {
        cached_tokens: 0,
        prompt_tokens: 1,
        completion_tokens: 2,
        total_tokens: 3,
        finish_reason: FinishReason::Length,
    });
    assert_eq!(
        serde_json::to_string(&ev).unwrap(),
        r#"{"id":"cmpl-1","model":"m","delta":"","created_at":7,"index":1,"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"finish_reason":"length"}}"#
    );
    assert_eq!(sse_event("{}"), "data: {}\n\n");
    assert_eq!(SSE_DONE, "data: [DONE]\n\n");
    assert_eq!(
        sse_error(&ApiError::internal("x")),
        "data: {\"code\":50000,\"message\":\"internal error: x\",\"result\":null}\n\ndata: [DONE]\n\n"
    );
}

#[test]
fn models_and_health() {
    let m = ModelsResult {
        models: vec![ModelInfo::new("hearth-test/tiny-gqa-tied", 2048)],
    };
    assert_eq!(
        Envelope::success(m).to_json(),
        r#"{"code":0,"message":"success","result":{"models":[{"id":"hearth-test/tiny-gqa-tied","context_length":2048,"owned_by":"hearth"}]}}"#
    );
    assert_eq!(
        Envelope::success(HealthResult::ok()).to_json(),
        r#"{"code":0,"message":"success","result":{"status":"ok"}}"#
    );
}

#[test]
fn ids() {
    assert_eq!(completion_id(0xabc), "cmpl-0000000000000abc");
}

#[test]
fn envelopes_round_trip() {
    let r = CompletionResult::new("i", "m", 3, 1, &[answer("x", FinishReason::Abort, 1)]);
    let text = Envelope::success(r.clone()).to_json();
    let back: Envelope<CompletionResult> = serde_json::from_str(&text).unwrap();
    assert_eq!(back.result, Some(r));
}
