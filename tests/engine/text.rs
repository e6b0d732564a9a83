//! Tokenizer and chat template against transformers (tests/golden/chat_template.json and
//! tokenize.json, made by tests/reference/make_golden.py).

use hearth::text::{ChatTemplate, Message, Tokenizer};

use crate::common;

fn tokenizer() -> Tokenizer {
    Tokenizer::from_bytes(&common::tokenizer_json()).expect("tokenizer.json loads")
}

#[test]
fn chat_templates_render_as_transformers_does() {
    let golden = common::golden("chat_template.json");
    let conversations = common::golden("conversations.json");
    let tokenizer = tokenizer();
    let templates = &golden["templates"];
    let cases = golden["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 20,
        "expected at least 10 conversations x 2 templates"
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let which = case["template"].as_str().unwrap();
        let source = templates[which].as_str().unwrap();
        let template = ChatTemplate::new(source, None, Some("<|im_end|>".into())).unwrap();
        let conversation = conversations
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name}: not in conversations.json"));
        let messages: Vec<Message> =
            serde_json::from_value(conversation["messages"].clone()).unwrap();
        let add_generation_prompt = case["add_generation_prompt"].as_bool().unwrap();
        let text = template.render(&messages, add_generation_prompt).unwrap();
        assert_eq!(
            text,
            case["text"].as_str().unwrap(),
            "{name} ({which}): text"
        );
        let ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(
            tokenizer.encode(&text).unwrap(),
            ids,
            "{name} ({which}): ids"
        );
    }
}

#[test]
fn test_models_ship_qwen2s_template() {
    let golden = common::golden("chat_template.json");
    assert_eq!(
        golden["templates"]["qwen2"].as_str().unwrap(),
        hearth::model::synthetic::QWEN2_CHAT_TEMPLATE
    );
}

#[test]
fn tokenizer_encodes_and_decodes_as_transformers_does() {
    encodes_and_decodes_as_golden(&tokenizer(), "tokenize.json");
}

/// Every case of the golden file `name` (text, ids, decoded text) through `tokenizer`.
fn encodes_and_decodes_as_golden(tokenizer: &Tokenizer, name: &str) {
    for case in common::golden(name)["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(tokenizer.encode(text).unwrap(), ids, "{name}: {text:?}");
        assert_eq!(
            tokenizer.decode(&ids).unwrap(),
            case["decoded"].as_str().unwrap(),
            "{name}: {text:?}"
        );
    }
}

/// Qwen3's template with `enable_thinking` on and off (reasoning in earlier answers
/// included), and Llama 3's with its own tokenizer, as transformers renders them.
#[test]
fn qwen3_thinking_and_llama3_templates_render_as_transformers_does() {
    use hearth::model::synthetic::Vocabulary;
    let golden = common::golden("chat_template.json");
    let conversations = common::golden("conversations.json");
    let llama = common::tokenizer_files(Vocabulary::Llama3);
    let llama_config =
        hearth::text::TokenizerConfig::from_bytes(llama.tokenizer_config.as_deref().unwrap())
            .unwrap();
    let llama_tokenizer = Tokenizer::from_bytes(&llama.tokenizer_json).unwrap();
    let qwen_tokenizer = tokenizer();
    let mut checked = 0;
    for key in ["thinking_cases", "llama3_1_cases"] {
        for case in golden[key].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let which = case["template"].as_str().unwrap();
            let source = golden["templates"][which].as_str().unwrap();
            let (template, tokenizer) = match case["tokenizer"].as_str().unwrap() {
                "qwen" => (
                    ChatTemplate::new(source, None, Some("<|im_end|>".into())).unwrap(),
                    &qwen_tokenizer,
                ),
                _ => (
                    ChatTemplate::new(
                        source,
                        llama_config.bos_token.clone(),
                        llama_config.eos_token.clone(),
                    )
                    .unwrap(),
                    &llama_tokenizer,
                ),
            };
            let messages = match case.get("messages") {
                Some(messages) => messages.clone(),
                None => conversations
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == name)
                    .unwrap_or_else(|| panic!("{name}: not in conversations.json"))["messages"]
                    .clone(),
            };
            let messages: Vec<Message> = serde_json::from_value(messages).unwrap();
            let extra = case["kwargs"].as_object().unwrap();
            let add = case["add_generation_prompt"].as_bool().unwrap();
            let text = template.render_with(&messages, add, extra).unwrap();
            assert_eq!(text, case["text"].as_str().unwrap(), "{key} {name}: text");
            let ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
            assert_eq!(tokenizer.encode(&text).unwrap(), ids, "{key} {name}: ids");
            checked += 1;
        }
    }
    assert!(checked >= 50, "{checked} cases");
}

/// The Llama 3 tokenizer encodes and decodes as transformers does.
#[test]
fn llama3_tokenizer_matches_transformers() {
    let files = common::tokenizer_files(hearth::model::synthetic::Vocabulary::Llama3);
    let tokenizer = Tokenizer::from_bytes(&files.tokenizer_json).unwrap();
    encodes_and_decodes_as_golden(&tokenizer, "tokenize_llama3_1.json");
}
