//! Unit tests, one file per module.

// Reads the case files from disk, so native only.
#[cfg(not(target_family = "wasm"))]
mod cases;
mod error;
mod http;
mod json;
mod openai;
mod request;
mod response;

/// The body of the user's document's curl example, byte for byte (note the trailing
/// comma after `"max_tokens": 100`).
pub(crate) const DOC_CURL_BODY: &str = "{\n         \"model\": \"Qwen2-7B-Instruct\",\n         \"messages\": [\n             {\n                 \"role\": \"user\",\n                 \"content\": \"Who won the world series in 2020?\"\n             }\n         ],\n         \"temperature\": 1.0,\n         \"top_p\": 1.0,\n         \"n\": 1,\n         \"max_tokens\": 100,\n     }";
