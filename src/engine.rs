//! A servable model: the network and its text handling, loaded from one checkpoint.

use crate::backend::Place;
use crate::model::gguf::{self, Gguf};
use crate::model::safetensors::Blob;
use crate::model::{FileSource, LoadError, LoadProgress, ModelConfig, Network, Precision, Weights};
use crate::text::{ChatFormat, TextFiles};

pub struct Engine {
    pub model: Network,
    pub format: ChatFormat,
}

impl Engine {
    /// Loads config.json, the tokenizer files and the weights from `source`.
    pub fn load(
        source: &dyn FileSource,
        place: impl Into<Place>,
        precision: Precision,
    ) -> Result<Self, LoadError> {
        Self::load_with_progress(source, place, precision, Box::new(|_, _| {}))
    }

    /// [`Engine::load`], telling `progress` the weight bytes loaded so far and in all.
    pub fn load_with_progress(
        source: &dyn FileSource,
        place: impl Into<Place>,
        precision: Precision,
        progress: LoadProgress,
    ) -> Result<Self, LoadError> {
        let config = ModelConfig::from_json((*source.require("config.json")?).as_ref())?;
        let format = load_format(source, &config)?;
        let weights = Weights::open(source)?.with_progress(progress);
        let model = Network::load(config, &weights, place, precision)?;
        Ok(Self { model, format })
    }

    /// Loads a GGUF file (`blob` its bytes, `file` its name): the config, tokenizer, chat
    /// template and stop ids from its metadata, the weights from its tensors in place.
    pub fn load_gguf(
        file: &str,
        blob: Blob,
        place: impl Into<Place>,
        precision: Option<Precision>,
        progress: LoadProgress,
    ) -> Result<Self, LoadError> {
        let header = Gguf::parse(file, (*blob).as_ref())?;
        let config = gguf::model::config(&header, (*blob).as_ref())?;
        let text = gguf::model::text_metadata(&header)?;
        let tokenizer_json = gguf::tokenizer::tokenizer_json(&header)?;
        let template_key = format!("{file}: tokenizer.chat_template");
        let format = chat_format(
            TextFiles {
                tokenizer_json: &tokenizer_json,
                tokenizer_config: Some(&text.tokenizer_config),
                generation_config: Some(&text.generation_config),
                chat_template: text.chat_template.as_deref().map(str::as_bytes),
                chat_template_name: Some(&template_key),
            },
            &config,
        )?;
        let precision = precision.unwrap_or_else(|| gguf::model::default_precision(&header));
        let weights = Weights::gguf(header, blob, &config).with_progress(progress);
        let model = Network::load(config, &weights, place, precision)?;
        Ok(Self { model, format })
    }

    /// The context length: prompt and answer together.
    pub fn context_length(&self) -> usize {
        self.model.config().max_position_embeddings
    }
}

fn load_format(source: &dyn FileSource, config: &ModelConfig) -> Result<ChatFormat, LoadError> {
    let tokenizer = source.require("tokenizer.json")?;
    let [tokenizer_config, generation_config, chat_template] =
        TextFiles::OPTIONAL.map(|name| source.read(name));
    let (tokenizer_config, generation_config, chat_template) =
        (tokenizer_config?, generation_config?, chat_template?);
    chat_format(
        TextFiles {
            tokenizer_json: (*tokenizer).as_ref(),
            tokenizer_config: tokenizer_config.as_deref().map(|b| b.as_ref()),
            generation_config: generation_config.as_deref().map(|b| b.as_ref()),
            chat_template: chat_template.as_deref().map(|b| b.as_ref()),
            chat_template_name: None,
        },
        config,
    )
}

/// The tokenizer, chat template and stop tokens of `config`'s model, checked against it.
pub fn chat_format(files: TextFiles<'_>, config: &ModelConfig) -> Result<ChatFormat, LoadError> {
    let format = ChatFormat::from_files(files, config.family.spec().chatml_fallback)
        .map_err(|e| LoadError::Text(e.into()))?;
    let tokens = format.tokenizer().vocab_size();
    if tokens > config.vocab_size {
        return Err(LoadError::Config {
            file: "tokenizer.json".into(),
            message: format!(
                "the tokenizer has {tokens} tokens but config.json's vocab_size is {}",
                config.vocab_size
            ),
        });
    }
    Ok(format)
}
