//! The one error type of the text layer.

use thiserror::Error;

/// Everything that can go wrong between chat messages and token ids.
///
/// Messages name the file or the template line involved, because these errors mostly reach a
/// person who has to fix a model directory.
#[derive(Debug, Error)]
pub enum TextError {
    /// `tokenizer.json` could not be loaded.
    #[error("tokenizer.json: {0}")]
    TokenizerLoad(String),
    /// The tokenizer failed while encoding text.
    #[error("tokenizer encode: {0}")]
    Encode(String),
    /// The tokenizer failed while decoding ids.
    #[error("tokenizer decode: {0}")]
    Decode(String),
    /// A JSON config file was malformed; `file` names it.
    #[error("{file}: {message}")]
    Config { file: &'static str, message: String },
    /// The chat template does not compile.
    #[error("chat template syntax error{}: {message}", line_suffix(*line))]
    TemplateSyntax {
        line: Option<usize>,
        message: String,
    },
    /// The chat template failed while rendering.
    #[error("chat template render error{}: {message}", line_suffix(*line))]
    TemplateRender {
        line: Option<usize>,
        message: String,
    },
    /// An error in the file (or GGUF key) `file` names.
    #[error("{file}: {source}")]
    In {
        file: String,
        source: Box<TextError>,
    },
    /// The template called `raise_exception(message)`, usually to reject a conversation
    /// (e.g. roles that do not alternate); the message is meant for the API client.
    #[error("chat template rejected the conversation: {0}")]
    TemplateRaised(String),
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}
