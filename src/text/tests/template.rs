use super::qwen3_template_source;
use crate::text::{ChatTemplate, Message, TextError};

fn m(role: &str, content: &str) -> Message {
    Message::new(role, content)
}

const THINK: &str = "<think>\nLet me add 2 and 2.\nThat is 4.\n</think>\n\nThe answer is 4.";

fn qwen3() -> ChatTemplate {
    ChatTemplate::new(
        &qwen3_template_source(),
        None,
        Some("<|im_end|>".to_owned()),
    )
    .unwrap()
}

#[test]
fn qwen3_template_matches_transformers() {
    // tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)
    let cases: Vec<(Vec<Message>, bool, &str)> = vec![
        (
            vec![m("user", "Hello!")],
            true,
            "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
        ),
        (
            vec![
                m("system", "You are terse."),
                m("user", "What is 2+2?"),
                m("assistant", THINK),
                m("user", "And 3+3?"),
            ],
            true,
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\nThe answer is 4.<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n",
        ),
        (
            vec![m("user", "What is 2+2?"), m("assistant", THINK)],
            false,
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nLet me add 2 and 2.\nThat is 4.\n</think>\n\nThe answer is 4.<|im_end|>\n",
        ),
        (
            vec![m("user", "Hi"), m("assistant", "  Hello there.\n")],
            false,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n  Hello there.\n<|im_end|>\n",
        ),
        (
            vec![
                m("user", "Weather in Paris?"),
                m("assistant", "<think>\nneed tool\n</think>\n\nChecking."),
                m("tool", "{\"temp\": 21}"),
                m("tool", "sunny"),
                m("assistant", "It is 21°C and sunny ☀️."),
            ],
            true,
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<think>\nneed tool\n</think>\n\nChecking.<|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response>\n<tool_response>\nsunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nIt is 21°C and sunny ☀️.<|im_end|>\n<|im_start|>assistant\n",
        ),
        (
            vec![
                m("system", "  spaced system  "),
                m("user", "你好 👋🏽\n\n e\u{301}"),
                m("assistant", "\n\n<think>\n\n</think>\n\n答案"),
                m("user", "<tool_response>x</tool_response>"),
            ],
            true,
            "<|im_start|>system\n  spaced system  <|im_end|>\n<|im_start|>user\n你好 👋🏽\n\n e\u{301}<|im_end|>\n<|im_start|>assistant\n答案<|im_end|>\n<|im_start|>user\n<tool_response>x</tool_response><|im_end|>\n<|im_start|>assistant\n",
        ),
    ];
    let template = qwen3();
    for (messages, add_generation_prompt, want) in cases {
        let got = template.render(&messages, add_generation_prompt).unwrap();
        assert_eq!(got, want, "{messages:?}");
    }
}

#[test]
fn qwen3_enable_thinking_kwarg() {
    let mut extra = serde_json::Map::new();
    extra.insert("enable_thinking".into(), false.into());
    let got = qwen3()
        .render_with(&[m("user", "Hi")], true, &extra)
        .unwrap();
    assert_eq!(
        got,
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    );
}

const QWEN2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

#[test]
fn qwen2_instruct_template_matches_transformers() {
    let template = ChatTemplate::new(QWEN2, None, Some("<|im_end|>".into())).unwrap();
    let cases: Vec<(Vec<Message>, bool, &str)> = vec![
        (
            vec![m("user", "Hello!")],
            true,
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
        ),
        (
            vec![
                m("system", "Be brief."),
                m("user", "Hi"),
                m("assistant", "Hello."),
                m("user", "Bye"),
            ],
            true,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
        ),
        (
            vec![m("user", "Hi")],
            false,
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
        ),
    ];
    for (messages, add_generation_prompt, want) in cases {
        assert_eq!(
            template.render(&messages, add_generation_prompt).unwrap(),
            want
        );
    }
}

#[test]
fn chatml_fallback() {
    let template = ChatTemplate::chatml();
    let messages = [m("system", "S"), m("user", "U"), m("assistant", "A")];
    assert_eq!(
        template.render(&messages, false).unwrap(),
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
    );
    assert_eq!(
        template.render(&messages[1..2], true).unwrap(),
        "<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn trim_and_lstrip_blocks_like_jinja2() {
    let source = "{% for m in messages %}\n    {% if m.role == 'user' %}\n  U: {{ m.content }}\n    {% else %}\n  {{ m.role|upper }}: {{ m.content }}\n    {% endif %}\n{% endfor %}\n{% if add_generation_prompt %}\nA:\n{% endif %}\n";
    let template = ChatTemplate::new(source, None, None).unwrap();
    let got = template
        .render(&[m("user", "a"), m("assistant", "b")], true)
        .unwrap();
    assert_eq!(got, "  U: a\n  ASSISTANT: b\nA:\n");
}

#[test]
fn python_methods_filters_and_printing() {
    // Rendered by transformers' jinja environment; covers pycompat methods, slicing,
    // namespace, transformers' tojson (json.dumps) and Python's printing of None/True/floats.
    let source = r#"{%- set ns = namespace(n=0, names=[]) -%}
{%- for m in messages[::-1] %}{{ loop.index0 }}={{ m.role }};{% set ns.n = ns.n + m.content|length %}{% endfor %}
n={{ ns.n }}
{{ messages[0].content.split()|tojson }}|{{ messages[0].content.split(',', 1)|tojson }}
{{ messages[0].content.upper() }}|{{ messages[0].content.title() }}|{{ '  x  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith('bc') }}
{{ messages[0].content.replace('a', 'A') }}|{{ 'a-b-c'.rsplit('-', 1)|tojson }}|{{ '  pad'.lstrip() }}|{{ 'pad  '.rstrip() }}|{{ 'Hello'.lower() }}
{% for k, v in {'a': 1, 'b': [1, 2.5, none, true, 'é<>"\\'], 'c': {'x': none}}.items() %}{{ k }}:{{ v|tojson }};{% endfor %}
{{ {'b': 1, 'a': {'c': [1, {}], 'd': []}}|tojson(indent=2, sort_keys=true) }}
{{ [1, 'two', 3.0, 1e20, 0.00001, 123456789012]|tojson }}|{{ 'é☃'|tojson(ensure_ascii=true) }}|{{ {'k': 'v'}|tojson(separators=(',', ':')) }}
{{ none }}|{{ true }}|{{ false }}|{{ missing }}|{{ messages|length }}|{{ messages[-1]['role'] }}|{{ messages[1:]|map(attribute='role')|join(',') }}
{%- if messages[0].content is string and messages[0].nope is not defined %} ok{% endif %}
{{ eos_token }}|{{ bos_token }}|{{ 'x' if bos_token is defined else 'no-bos' }}
"#;
    let template = ChatTemplate::new(source, None, Some("<|im_end|>".into())).unwrap();
    let got = template
        .render(&[m("user", "a,b c"), m("assistant", "xyz")], false)
        .unwrap();
    let want = "0=assistant;1=user;n=8\n[\"a,b\", \"c\"]|[\"a\", \"b c\"]\nA,B C|A,B C|x|hi|True|True\nA,b c|[\"a-b\", \"c\"]|pad|pad|hello\na:1;b:[1, 2.5, null, true, \"é<>\\\"\\\\\"];c:{\"x\": null};{\n  \"a\": {\n    \"c\": [\n      1,\n      {}\n    ],\n    \"d\": []\n  },\n  \"b\": 1\n}\n[1, \"two\", 3.0, 1e+20, 1e-05, 123456789012]|\"\\u00e9\\u2603\"|{\"k\":\"v\"}\nNone|True|False||2|assistant|assistant ok<|im_end|>||no-bos";
    assert_eq!(got, want);
}

#[test]
fn python_repr_of_containers() {
    // print(jinja2 render of "{{ [1, 'a', none, true, 2.5, {'k': \"it's\"}] }}")
    let template = ChatTemplate::new(
        "{{ [1, 'a', none, true, 2.5, {'k': \"it's\"}] }}",
        None,
        None,
    )
    .unwrap();
    assert_eq!(
        template.render(&[], false).unwrap(),
        "[1, 'a', None, True, 2.5, {'k': \"it's\"}]"
    );
}

#[test]
fn raise_exception_surfaces_its_message() {
    let source = "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ message['content'] }}{% endfor %}";
    let template = ChatTemplate::new(source, None, None).unwrap();
    assert_eq!(
        template
            .render(&[m("user", "a"), m("assistant", "b")], false)
            .unwrap(),
        "ab"
    );
    let err = template
        .render(&[m("user", "a"), m("user", "b")], false)
        .unwrap_err();
    match &err {
        TextError::TemplateRaised(msg) => assert_eq!(
            msg,
            "Conversation roles must alternate user/assistant/user/assistant/..."
        ),
        other => panic!("expected TemplateRaised, got {other:?}"),
    }
    assert!(err.to_string().contains("roles must alternate"));
}

#[test]
fn syntax_errors_name_the_line() {
    let err = ChatTemplate::new("line one\n{% if x %}\nno end", None, None).unwrap_err();
    match &err {
        TextError::TemplateSyntax { line, message } => {
            assert!(line.is_some(), "{err}");
            assert!(!message.is_empty());
        }
        other => panic!("expected TemplateSyntax, got {other:?}"),
    }
    let err = ChatTemplate::new("a\nb {{ 1 + }} c", None, None).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn render_errors_name_the_line() {
    let template = ChatTemplate::new("ok\n{{ messages[0].role.nope.deeper }}", None, None).unwrap();
    let err = template.render(&[m("user", "x")], false).unwrap_err();
    match &err {
        TextError::TemplateRender { line, .. } => assert_eq!(*line, Some(2), "{err}"),
        other => panic!("expected TemplateRender, got {other:?}"),
    }
}

#[test]
fn strftime_now_uses_the_clock() {
    let template = ChatTemplate::new("Today is {{ strftime_now('%d %b %Y') }}.", None, None)
        .unwrap()
        .with_clock(std::sync::Arc::new(|| Some(1_795_829_892)));
    assert_eq!(
        template.render(&[], false).unwrap(),
        "Today is 28 Nov 2026."
    );
    let no_clock = ChatTemplate::new("{{ strftime_now('%Y') }}", None, None)
        .unwrap()
        .with_clock(std::sync::Arc::new(|| None));
    assert!(no_clock.render(&[], false).is_err());
}

#[test]
fn message_serde() {
    let msg: Message = serde_json::from_str(r#"{"role":"user","content":"hi"}"#).unwrap();
    assert_eq!(msg, Message::user("hi"));
    assert_eq!(
        serde_json::to_string(&Message::assistant("x")).unwrap(),
        r#"{"role":"assistant","content":"x"}"#
    );
}

#[test]
fn string_methods_beyond_pycompat() {
    let source = r#"{{ '  a b  c '.rsplit(None, 1)|tojson }}|{{ '  a b  c '.rsplit()|tojson }}|{{ 'a--b'.rsplit('-')|tojson }}|{{ 'a.b.c'.partition('.')|tojson }}|{{ 'a.b.c'.rpartition('.')|tojson }}|{{ 'abc'.rpartition('x')|tojson }}|{{ 'prefix-x'.removeprefix('prefix-') }}|{{ 'x.txt'.removesuffix('.txt') }}"#;
    let template = ChatTemplate::new(source, None, None).unwrap();
    assert_eq!(
        template.render(&[], false).unwrap(),
        r#"["  a b", "c"]|["a", "b", "c"]|["a", "", "b"]|["a", ".", "b.c"]|["a.b", ".", "c"]|["", "", "abc"]|x|x"#
    );
}

/// A template that loops without end fails its render with a clear error in bounded time;
/// the same template object still renders a conversation its loops allow.
#[test]
fn an_endless_template_runs_out_of_fuel() {
    let source = "{% for a in range(100000) %}{% for b in range(100000) %}{% if messages|length > 1 %}{{ b }}{% endif %}{% endfor %}{% endfor %}ok";
    let template = ChatTemplate::new(source, None, None).unwrap();
    let started = std::time::Instant::now();
    let long = [m("user", "a"), m("assistant", "b")];
    let e = template.render(&long, true).unwrap_err();
    assert!(matches!(e, TextError::TemplateRender { .. }), "{e}");
    assert!(e.to_string().contains("fuel"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // A real conversation stays far below the limit: a long Qwen3 chat renders.
    let many: Vec<Message> = (0..400)
        .map(|i| {
            m(
                if i % 2 == 0 { "user" } else { "assistant" },
                "a few words of chat",
            )
        })
        .collect();
    assert!(qwen3().render(&many, true).is_ok());
}

/// Templates whose output doubles (a macro that writes its own result twice, literal text in
/// nested loops) fail on the output limit, in bounded time, long before memory runs out.
#[test]
fn a_template_whose_output_explodes_is_stopped() {
    let doubling = "{% macro d(n) %}{% if n > 0 %}{% set x = d(n - 1) %}{{ x }}{{ x }}{% else %}ab{% endif %}{% endmacro %}{{ d(60) }}";
    let literal = format!(
        "{{% for a in range(100000) %}}{{% for b in range(100000) %}}{}{{% endfor %}}{{% endfor %}}",
        "x".repeat(4096)
    );
    let loop_output = "{% for a in range(100000) %}{% for b in range(100000) %}{{ messages[0].content }}{% endfor %}{% endfor %}";
    for source in [doubling, &literal, loop_output] {
        let template = ChatTemplate::new(source, None, None).unwrap();
        let started = std::time::Instant::now();
        let e = template
            .render(&[m("user", &"y".repeat(1000))], true)
            .unwrap_err();
        assert!(matches!(e, TextError::TemplateRender { .. }), "{e}");
        assert!(e.to_string().contains("output passed 16 MiB"), "{e}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }
}
