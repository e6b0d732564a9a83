use super::read_tokenizer_file;
use crate::text::{ChatFormat, Message, TextFiles};

/// The format of a Qwen model from these files, without a chat_template.jinja.
fn format_of(
    tokenizer_json: &[u8],
    tokenizer_config: Option<&[u8]>,
    generation_config: Option<&[u8]>,
) -> ChatFormat {
    let files = TextFiles {
        tokenizer_json,
        tokenizer_config,
        generation_config,
        chat_template: None,
        chat_template_name: None,
    };
    ChatFormat::from_files(files, true).unwrap()
}

#[test]
fn qwen3_format_from_real_files() {
    let tokenizer_json = read_tokenizer_file("tokenizer.json");
    let config = read_tokenizer_file("tokenizer_config.json");
    let generation = br#"{"eos_token_id": [151645, 151643], "bos_token_id": 151643}"#;
    let format = format_of(&tokenizer_json, Some(&config), Some(generation));
    assert_eq!(format.end_of_turn_ids(), [151643, 151645]);
    assert!(format.is_end_of_turn(151645));
    assert!(!format.is_end_of_turn(151644));

    // apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    let messages = [
        Message::system("You are terse."),
        Message::user("What is 2+2?"),
        Message::assistant(
            "<think>\nLet me add 2 and 2.\nThat is 4.\n</think>\n\nThe answer is 4.",
        ),
        Message::user("And 3+3?"),
    ];
    assert_eq!(
        format.prompt_ids(&messages).unwrap(),
        [
            151644, 8948, 198, 2610, 525, 50537, 13, 151645, 198, 151644, 872, 198, 3838, 374, 220,
            17, 10, 17, 30, 151645, 198, 151644, 77091, 198, 785, 4226, 374, 220, 19, 13, 151645,
            198, 151644, 872, 198, 3036, 220, 18, 10, 18, 30, 151645, 198, 151644, 77091, 198
        ]
    );
}

#[test]
fn qwen2_template_prompt_ids() {
    let tokenizer_json = read_tokenizer_file("tokenizer.json");
    let config = serde_json::json!({
        "chat_template": "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
        "eos_token": {"content": "<|im_end|>", "special": true},
        "bos_token": null,
    });
    let config = serde_json::to_vec(&config).unwrap();
    let format = format_of(
        &tokenizer_json,
        Some(&config),
        Some(&br#"{"eos_token_id": 151645}"#[..]),
    );
    assert_eq!(format.end_of_turn_ids(), [151645]);
    assert_eq!(
        format.prompt_ids(&[Message::user("Hello!")]).unwrap(),
        [
            151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198,
            9707, 0, 151645, 198, 151644, 77091, 198
        ]
    );
}

#[test]
fn chatml_fallback_without_configs() {
    let tokenizer_json = read_tokenizer_file("tokenizer.json");
    let format = format_of(&tokenizer_json, None, None);
    // No eos configured anywhere: stop on the ChatML markers.
    assert_eq!(format.end_of_turn_ids(), [151643, 151645]);
    let format = format_of(
        &tokenizer_json,
        Some(&br#"{"eos_token": "<|im_end|>"}"#[..]),
        None,
    );
    assert_eq!(format.end_of_turn_ids(), [151645]);
    assert_eq!(
        format.prompt_ids(&[Message::user("Hi")]).unwrap(),
        [151644, 872, 198, 13048, 151645, 198, 151644, 77091, 198]
    );
    assert_eq!(
        format
            .template()
            .render(&[Message::user("Hi")], true)
            .unwrap(),
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn detokenizer_from_format_streams_a_reply() {
    let tokenizer_json = read_tokenizer_file("tokenizer.json");
    let format = format_of(&tokenizer_json, None, None);
    let reply = "<think>\n想一想 🤔\n</think>\n\nDone ✅";
    let mut ids = format.tokenizer().encode(reply).unwrap();
    ids.push(151645);
    let mut detok = format.detokenizer();
    let mut out = String::new();
    for id in ids {
        out.push_str(&detok.push(id).unwrap());
    }
    out.push_str(&detok.finish().unwrap());
    assert_eq!(out, reply);
}

/// A template that does not compile is reported with the file it came from.
#[test]
fn a_broken_template_names_its_file() {
    let tokenizer = read_tokenizer_file("tokenizer.json");
    let broken = br#"{"chat_template": "{{ 'a' + "}"#;
    let from_config = TextFiles {
        tokenizer_json: &tokenizer,
        tokenizer_config: Some(broken),
        ..TextFiles::default()
    };
    let e = ChatFormat::from_files(from_config, true)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("tokenizer_config.json: chat template syntax error"),
        "{e}"
    );
    let jinja = TextFiles {
        tokenizer_json: &tokenizer,
        chat_template: Some(b"{% for %}"),
        ..TextFiles::default()
    };
    let e = ChatFormat::from_files(jinja, true).unwrap_err().to_string();
    assert!(
        e.starts_with("chat_template.jinja: chat template syntax error"),
        "{e}"
    );
}
