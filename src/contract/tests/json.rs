use serde_json::json;

use super::DOC_CURL_BODY;
use crate::contract::json::{blank_trailing_commas, parse_lenient, parse_object};

fn ok(text: &str) -> serde_json::Value {
    parse_lenient(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> String {
    let e = parse_lenient(text).expect_err(text);
    assert_eq!((e.status, e.code), (400, 40000), "{text:?}");
    e.message
}

#[test]
fn trailing_comma_in_object_and_array() {
    assert_eq!(ok(r#"{"a":1,}"#), json!({"a": 1}));
    assert_eq!(ok("[1,2,]"), json!([1, 2]));
}

#[test]
fn trailing_commas_nested_and_spread_over_lines() {
    let text = "{\n \"a\": [1, [2, 3,], {\"b\": {\"c\": 4,},},\n ],\n \"d\": {\"e\": [],},\r\n\t}";
    assert_eq!(
        ok(text),
        json!({"a": [1, [2, 3], {"b": {"c": 4}}], "d": {"e": []}})
    );
}

#[test]
fn blanking_keeps_every_position() {
    let text = "{\"a\": [1,\n],}";
    let blanked = blank_trailing_commas(text);
    assert_eq!(blanked.len(), text.len());
    assert_eq!(String::from_utf8(blanked).unwrap(), "{\"a\": [1 \n] }");
}

#[test]
fn commas_inside_strings_are_kept() {
    assert_eq!(
        ok(r#"{"a":"x,}", "b":"y,]",}"#),
        json!({"a": "x,}", "b": "y,]"})
    );
    // An escaped quote does not end the string; an escaped backslash does not escape it.
    assert_eq!(ok(r#"{"a":"q\",]",}"#), json!({"a": "q\",]"}));
    assert_eq!(ok(r#"{"a":"\\",}"#), json!({"a": "\\"}));
    assert_eq!(ok(r#"["\\\",}",]"#), json!(["\\\",}"]));
}

#[test]
fn other_comma_errors_are_rejected() {
    for text in [
        "[1,,2]",
        "{,}",
        "[,]",
        "[,1]",
        r#"{"a":,}"#,
        "[1,,]",
        r#"{"a":1,,}"#,
        "{} ,",
    ] {
        err(text);
    }
}

#[test]
fn double_comma_position() {
    assert_eq!(
        err("[1,,2]"),
        "invalid JSON at line 1, column 4: expected value"
    );
}

#[test]
fn line_and_column_on_a_multiline_body() {
    let text = "{\n  \"a\": [1,\n    ,2]\n}";
    assert_eq!(
        err(text),
        "invalid JSON at line 3, column 5: expected value"
    );
    // A comma before a mismatched bracket is blanked like any trailing comma; the
    // bracket is still an error, at its own position.
    let text = "{\n  \"model\": \"m\",\n    ]\n}";
    assert_eq!(
        err(text),
        "invalid JSON at line 3, column 5: expected `,` or `}`"
    );
}

#[test]
fn column_counts_characters_not_bytes() {
    // "é" is two bytes; the stray `x` is the 9th character of the line.
    let text = "{\"é\": 1 x}";
    let m = err(text);
    assert!(m.starts_with("invalid JSON at line 1, column 9:"), "{m}");
}

#[test]
fn other_syntax_errors() {
    assert!(err(r#"{"a" 1}"#).contains("line 1, column 6"));
    assert!(err(r#"{'a': 1}"#).contains("key must be a string"));
    assert!(err("{\"a\": 1").contains("EOF while parsing an object"));
    assert!(err("{\"a\": 1}\n{").contains("line 2, column 1: trailing characters"));
    assert!(err("{\n").contains("line 2, column 1"));
    assert!(err("{\"a\": tru}").contains("expected ident"));
    assert!(err("// c\n{}").contains("line 1, column 1"));
}

#[test]
fn empty_body() {
    assert_eq!(
        err(""),
        "invalid JSON: the body is empty; expected an object"
    );
    err(" \n\t");
}

#[test]
fn top_level_must_be_an_object() {
    let e = parse_object(b"[1]").unwrap_err();
    assert_eq!((e.status, e.code), (400, 40000));
    assert_eq!(
        e.message,
        "invalid request body: expected a JSON object, got an array"
    );
    assert!(
        parse_object(b"\"x\"")
            .unwrap_err()
            .message
            .ends_with("got a string")
    );
    assert!(
        parse_object(b"null")
            .unwrap_err()
            .message
            .ends_with("got null")
    );
}

#[test]
fn body_must_be_utf8() {
    let e = parse_object(b"{\"a\":\n \"\xff\"}").unwrap_err();
    assert_eq!((e.status, e.code), (400, 40000));
    assert_eq!(
        e.message,
        "invalid JSON at line 2, column 3: the body is not valid UTF-8"
    );
}

#[test]
fn byte_order_mark_is_ignored() {
    let mut body = "\u{feff}".as_bytes().to_vec();
    body.extend_from_slice(br#"{"a":1,}"#);
    assert_eq!(parse_object(&body).unwrap()["a"], 1);
}

#[test]
fn the_documents_curl_body_is_accepted() {
    let v = parse_object(DOC_CURL_BODY.as_bytes()).unwrap();
    assert_eq!(v["model"], "Qwen2-7B-Instruct");
    assert_eq!(v["max_tokens"], 100);
    assert_eq!(v.len(), 6);
}
