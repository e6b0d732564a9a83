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

impl ChatFormat {
    /// Builds the format from a model directory's file contents. The template comes from
    /// `tokenizer_config.json`, or is plain ChatML when there is none; the end-of-turn ids are
    /// `generation_config.json`'s `eos_token_id`(s) plus the id of the tokenizer config's
    /// `eos_token`.
    pub fn from_bytes(
        tokenizer_json: &[u8],
        tokenizer_config: Option<&[u8]>,
        generation_config: Option<&[u8]>,
    ) -> Result<Self, TextError> {
        let tokenizer = Tokenizer::from_bytes(tokenizer_json)?;
        let tokenizer_config = tokenizer_config
            .map(TokenizerConfig::from_bytes)
            .transpose()?;
        let generation_config = generation_config
            .map(GenerationConfig::from_bytes)
            .transpose()?;

        let template = match &tokenizer_config {
            Some(TokenizerConfig {
                chat_template: Some(source),
                bos_token,
                eos_token,
                ..
            }) => ChatTemplate::new(source, bos_token.clone(), eos_token.clone())?,
            _ => {
                tracing::info!("no chat template in tokenizer_config.json; using plain ChatML");
                ChatTemplate::chatml()
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

    /// Loads `tokenizer.json`, and `tokenizer_config.json`, `generation_config.json` and
    /// `chat_template.jinja` when present, from a model directory. A `chat_template.jinja` file
    /// (newer transformers save templates there) wins over the config's template.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: impl AsRef<std::path::Path>) -> Result<Self, TextError> {
        let dir = dir.as_ref();
        let optional = |name: &'static str| -> Result<Option<Vec<u8>>, TextError> {
            match std::fs::read(dir.join(name)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(TextError::Config {
                    file: name,
                    message: format!("{}: {e}", dir.join(name).display()),
                }),
            }
        };
        let tokenizer_json = std::fs::read(dir.join("tokenizer.json")).map_err(|e| {
            TextError::TokenizerLoad(format!("{}: {e}", dir.join("tokenizer.json").display()))
        })?;
        let tokenizer_config = optional("tokenizer_config.json")?;
        let generation_config = optional("generation_config.json")?;
        let mut format = Self::from_bytes(
            &tokenizer_json,
            tokenizer_config.as_deref(),
            generation_config.as_deref(),
        )?;
        if let Some(source) = optional("chat_template.jinja")? {
            let source = String::from_utf8(source).map_err(|e| TextError::Config {
                file: "chat_template.jinja",
                message: e.to_string(),
            })?;
            let (bos, eos) = format
                .tokenizer_config
                .as_ref()
                .map(|c| (c.bos_token.clone(), c.eos_token.clone()))
                .unwrap_or_default();
            format.template = ChatTemplate::new(&source, bos, eos)?;
        }
        Ok(format)
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
        self.tokenizer
            .encode(&self.template.render(messages, true)?)
    }

    /// A fresh streaming detokenizer for one response.
    pub fn detokenizer(&self) -> Detokenizer {
        Detokenizer::new(&self.tokenizer)
    }
}
