//! Everything a model needs for text, bundled: tokenizer, chat template, and the ids that end
//! an assistant turn.

use super::{
    ChatTemplate, Detokenizer, GenerationConfig, Message, TextError, Tokenizer, TokenizerConfig,
};

/// The text side of a chat model.
#[derive(Debug, Clone)]
pub struct ChatFormat {
    tokenizer: Tokenizer,
    template: ChatTemplate,
    end_of_turn_ids: Vec<u32>,
    tokenizer_config: Option<TokenizerConfig>,
    generation_config: Option<GenerationConfig>,
}

/// A templated prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub ids: Vec<u32>,
    /// `Some` for a template whose model thinks in `<think>` blocks (Qwen3): the answer's
    /// thinking is split from it, and `Some(true)` says the prompt already opened the block.
    pub reasoning: Option<bool>,
}

/// The text files of a model directory, as bytes; only tokenizer.json is required.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextFiles<'a> {
    pub tokenizer_json: &'a [u8],
    pub tokenizer_config: Option<&'a [u8]>,
    pub generation_config: Option<&'a [u8]>,
    /// `chat_template.jinja`, where transformers 5 saves the template; it wins over
    /// tokenizer_config.json's `chat_template`.
    pub chat_template: Option<&'a [u8]>,
    /// What to call `chat_template` in errors when it is not a `chat_template.jinja` (a GGUF's
    /// metadata key).
    pub chat_template_name: Option<&'a str>,
}

impl<'a> TextFiles<'a> {
    /// The file names [`ChatFormat::from_files`] reads beside tokenizer.json, all optional.
    pub const OPTIONAL: [&'static str; 3] = [
        "tokenizer_config.json",
        "generation_config.json",
        "chat_template.jinja",
    ];
}

impl ChatFormat {
    /// Builds the format from a model directory's file contents. The template comes from
    /// `chat_template.jinja` or `tokenizer_config.json`; with neither, plain ChatML when
    /// `chatml_fallback` (Qwen's own format), else an error naming both files. The
    /// end-of-turn ids are `generation_config.json`'s `eos_token_id`(s) plus the id of the
    /// tokenizer config's `eos_token`.
    pub fn from_files(files: TextFiles<'_>, chatml_fallback: bool) -> Result<Self, TextError> {
        let tokenizer = Tokenizer::from_bytes(files.tokenizer_json)?;
        let tokenizer_config = files
            .tokenizer_config
            .map(TokenizerConfig::from_bytes)
            .transpose()?;
        let generation_config = files
            .generation_config
            .map(GenerationConfig::from_bytes)
            .transpose()?;
        let jinja = files
            .chat_template
            .map(|bytes| {
                String::from_utf8(bytes.to_vec()).map_err(|e| TextError::Config {
                    file: "chat_template.jinja",
                    message: e.to_string(),
                })
            })
            .transpose()?;
        let (bos, eos) = tokenizer_config
            .as_ref()
            .map(|c| (c.bos_token.clone(), c.eos_token.clone()))
            .unwrap_or_default();
        let source = match jinja {
            Some(jinja) => Some((
                jinja,
                files.chat_template_name.unwrap_or("chat_template.jinja"),
            )),
            None => tokenizer_config
                .as_ref()
                .and_then(|c| c.chat_template.clone())
                .map(|t| (t, "tokenizer_config.json")),
        };
        let template = match source {
            Some((source, file)) => {
                ChatTemplate::new(&source, bos, eos).map_err(|e| TextError::In {
                    file: file.to_string(),
                    source: Box::new(e),
                })?
            }
            None if chatml_fallback => {
                tracing::info!(
                    "no chat template in chat_template.jinja or tokenizer_config.json; using plain ChatML"
                );
                ChatTemplate::chatml()
            }
            None => {
                return Err(TextError::Config {
                    file: "chat_template.jinja",
                    message: "missing, and tokenizer_config.json has no chat_template: this model \
                              needs its chat template (only Qwen models fall back to ChatML)"
                        .into(),
                });
            }
        };

        let mut end_of_turn_ids: Vec<u32> = generation_config
            .as_ref()
            .map(|g| g.eos_token_ids.clone())
            .unwrap_or_default();
        if let Some(eos) = tokenizer_config
            .as_ref()
            .and_then(|c| c.eos_token.as_deref())
        {
            match tokenizer.token_id(eos) {
                Some(id) => end_of_turn_ids.push(id),
                None => tracing::warn!(eos, "eos_token is not in the vocabulary"),
            }
        }
        if end_of_turn_ids.is_empty() {
            // Without either config the model could never stop; ChatML's markers are what Qwen
            // models end turns with.
            end_of_turn_ids.extend(
                ["<|im_end|>", "<|endoftext|>"]
                    .iter()
                    .filter_map(|t| tokenizer.token_id(t)),
            );
            tracing::warn!(
                ?end_of_turn_ids,
                "no eos token configured; stopping on ChatML end markers"
            );
        }
        end_of_turn_ids.sort_unstable();
        end_of_turn_ids.dedup();

        Ok(Self {
            tokenizer,
            template,
            end_of_turn_ids,
            tokenizer_config,
            generation_config,
        })
    }

    /// Replaces the chat template (e.g. one supplied by the user).
    pub fn with_template(mut self, template: ChatTemplate) -> Self {
        self.template = template;
        self
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    /// Ids that end the assistant's turn; sorted, without duplicates.
    pub fn end_of_turn_ids(&self) -> &[u32] {
        &self.end_of_turn_ids
    }

    pub fn is_end_of_turn(&self, id: u32) -> bool {
        self.end_of_turn_ids.binary_search(&id).is_ok()
    }

    /// The parsed `tokenizer_config.json`, if one was given.
    pub fn tokenizer_config(&self) -> Option<&TokenizerConfig> {
        self.tokenizer_config.as_ref()
    }

    /// The parsed `generation_config.json` (sampling defaults), if one was given.
    pub fn generation_config(&self) -> Option<&GenerationConfig> {
        self.generation_config.as_ref()
    }

    /// The prompt for the model's next turn: the rendered conversation with the generation
    /// prompt, encoded like `apply_chat_template(messages, add_generation_prompt=True,
    /// tokenize=True)`.
    pub fn prompt_ids(&self, messages: &[Message]) -> Result<Vec<u32>, TextError> {
        self.prompt(messages, None).map(|p| p.ids)
    }

    /// [`ChatFormat::prompt_ids`] with `enable_thinking` passed to the template when given
    /// (as `apply_chat_template(..., enable_thinking=...)` does), and what the answer will
    /// hold.
    pub fn prompt(
        &self,
        messages: &[Message],
        enable_thinking: Option<bool>,
    ) -> Result<Prompt, TextError> {
        let mut extra = serde_json::Map::new();
        if let Some(enable) = enable_thinking {
            extra.insert("enable_thinking".into(), enable.into());
        }
        let text = self.template.render_with(messages, true, &extra)?;
        let reasoning = self
            .template
            .thinks()
            .then(|| text.trim_end().ends_with("<think>"));
        Ok(Prompt {
            ids: self.tokenizer.encode(&text)?,
            reasoning,
        })
    }

    /// A fresh streaming detokenizer for one response.
    pub fn detokenizer(&self) -> Detokenizer {
        Detokenizer::new(&self.tokenizer)
    }
}
