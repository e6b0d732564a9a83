//! A servable model: the network and its text handling, loaded from one checkpoint.

use burn::tensor::Device;

use crate::model::{FileSource, LoadError, LoadProgress, Precision, Qwen2, Qwen2Config, Weights};
use crate::text::ChatFormat;

pub struct Engine {
    pub model: Qwen2,
    pub format: ChatFormat,
}

impl Engine {
    /// Loads config.json, the tokenizer files and the weights from `source`.
    pub fn load(
        source: &dyn FileSource,
        device: &Device,
        precision: Precision,
    ) -> Result<Self, LoadError> {
        Self::load_with_progress(source, device, precision, Box::new(|_, _| {}))
    }

    /// [`Engine::load`], telling `progress` the weight bytes loaded so far and in all.
    pub fn load_with_progress(
        source: &dyn FileSource,
        device: &Device,
        precision: Precision,
        progress: LoadProgress,
    ) -> Result<Self, LoadError> {
        let config = Qwen2Config::from_json((*source.require("config.json")?).as_ref())?;
        let format = load_format(source, &config)?;
        let weights = Weights::open(source)?.with_progress(progress);
        let model = Qwen2::load(config, &weights, device, precision)?;
        Ok(Self { model, format })
    }

    /// The context length: prompt and answer together.
    pub fn context_length(&self) -> usize {
        self.model.config().max_position_embeddings
    }
}

fn load_format(source: &dyn FileSource, config: &Qwen2Config) -> Result<ChatFormat, LoadError> {
    let tokenizer = source.require("tokenizer.json")?;
    let tokenizer_config = source.read("tokenizer_config.json")?;
    let generation_config = source.read("generation_config.json")?;
    let format = ChatFormat::from_bytes(
        (*tokenizer).as_ref(),
        tokenizer_config.as_deref().map(|b| b.as_ref()),
        generation_config.as_deref().map(|b| b.as_ref()),
    )
    .map_err(|e| LoadError::Text(e.to_string()))?;
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
