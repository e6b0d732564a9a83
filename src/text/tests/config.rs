use super::read_tokenizer_file;
use crate::text::{GenerationConfig, TextError, TokenizerConfig};

#[test]
fn real_qwen3_tokenizer_config() {
    let config =
        TokenizerConfig::from_bytes(&read_tokenizer_file("tokenizer_config.json")).unwrap();
    assert_eq!(config.eos_token.as_deref(), Some("<|im_end|>"));
    assert_eq!(config.pad_token.as_deref(), Some("<|endoftext|>"));
    assert_eq!(config.bos_token, None);
    assert_eq!(config.add_bos_token, Some(false));
    assert_eq!(config.clean_up_tokenization_spaces, Some(false));
    assert!(config.chat_template.unwrap().contains("<|im_start|>"));
}

#[test]
fn special_tokens_as_string_object_or_null() {
    let config = TokenizerConfig::from_bytes(
        br#"{
            "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false, "normalized": true},
            "eos_token": "</s>",
            "pad_token": null,
            "some_unknown_key": [1, 2, 3]
        }"#,
    )
    .unwrap();
    assert_eq!(config.bos_token.as_deref(), Some("<s>"));
    assert_eq!(config.eos_token.as_deref(), Some("</s>"));
    assert_eq!(config.pad_token, None);
    assert_eq!(config.unk_token, None);
    assert_eq!(config.chat_template, None);

    let err = TokenizerConfig::from_bytes(br#"{"eos_token": 5}"#).unwrap_err();
    assert!(matches!(err, TextError::Config { .. }));
    assert!(
        err.to_string()
            .starts_with("tokenizer_config.json: eos_token"),
        "{err}"
    );
    let err = TokenizerConfig::from_bytes(br#"{"eos_token": {"lstrip": true}}"#).unwrap_err();
    assert!(err.to_string().contains("content"), "{err}");
}

#[test]
fn chat_template_list_picks_default() {
    let config = TokenizerConfig::from_bytes(
        br#"{"chat_template": [
            {"name": "tool_use", "template": "TOOLS"},
            {"name": "default", "template": "DEFAULT"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(config.chat_template.as_deref(), Some("DEFAULT"));
    assert_eq!(config.named_chat_template("tool_use"), Some("TOOLS"));
    assert_eq!(config.named_chat_template("rag"), None);

    let err =
        TokenizerConfig::from_bytes(br#"{"chat_template": [{"name": "rag", "template": "R"}]}"#)
            .unwrap_err();
    assert!(err.to_string().contains("no \"default\""), "{err}");
    let err = TokenizerConfig::from_bytes(br#"{"chat_template": 3}"#).unwrap_err();
    assert!(err.to_string().contains("chat_template"), "{err}");
    let config = TokenizerConfig::from_bytes(br#"{"chat_template": null}"#).unwrap();
    assert_eq!(config.chat_template, None);
}

#[test]
fn malformed_json_names_the_file() {
    let err = TokenizerConfig::from_bytes(b"{").unwrap_err();
    assert!(
        err.to_string().starts_with("tokenizer_config.json: "),
        "{err}"
    );
    let err = GenerationConfig::from_bytes(br#"{"top_k": "high"}"#).unwrap_err();
    assert!(
        err.to_string().starts_with("generation_config.json: "),
        "{err}"
    );
}

#[test]
fn generation_config_eos_int_or_list() {
    // Qwen2.5-Instruct's generation_config.json.
    let config = GenerationConfig::from_bytes(
        br#"{
            "bos_token_id": 151643,
            "pad_token_id": 151643,
            "do_sample": true,
            "eos_token_id": [151645, 151643],
            "repetition_penalty": 1.05,
            "temperature": 0.7,
            "top_p": 0.8,
            "top_k": 20,
            "transformers_version": "4.37.0"
        }"#,
    )
    .unwrap();
    assert_eq!(
        config,
        GenerationConfig {
            bos_token_id: Some(151643),
            eos_token_ids: vec![151645, 151643],
            pad_token_id: Some(151643),
            do_sample: Some(true),
            temperature: Some(0.7),
            top_p: Some(0.8),
            top_k: Some(20),
            repetition_penalty: Some(1.05),
        }
    );

    let config =
        GenerationConfig::from_bytes(br#"{"eos_token_id": 2, "bos_token_id": null}"#).unwrap();
    assert_eq!(config.eos_token_ids, [2]);
    assert_eq!(config.bos_token_id, None);
    assert_eq!(config.temperature, None);

    let config = GenerationConfig::from_bytes(b"{}").unwrap();
    assert_eq!(config, GenerationConfig::default());

    let err = GenerationConfig::from_bytes(br#"{"eos_token_id": "x"}"#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("generation_config.json: eos_token_id"),
        "{err}"
    );
    let err = GenerationConfig::from_bytes(br#"{"eos_token_id": [1, -2]}"#).unwrap_err();
    assert!(err.to_string().contains("eos_token_id"), "{err}");
}
