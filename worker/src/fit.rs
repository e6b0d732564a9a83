//! Whether a checkpoint fits the isolate, decided from config.json and the files' sizes
//! before any weight is downloaded: an isolate that runs out of memory is killed, so a model
//! that cannot fit is refused with the arithmetic instead.
//!
//! The load runs in two phases whose transients share memory (see `isolate.rs`): the weight
//! files are fetched and converted, then dropped; then tokenizer.json is parsed. So the peak
//! is the weights plus the larger of the two transients. (When the files already hold the run
//! format the CPU kernels read them in place and they are the weights: the estimate then
//! counts them twice, erring on the safe side.)

use hearth::model::architecture::tensors;
use hearth::model::{ModelConfig, Precision};

/// Parsing tokenizer.json takes the wasm heap up by this many times the file's size, the
/// file included (measured: Qwen's 11.4 MB tokenizer.json, 83 MiB).
const TOKENIZER_PEAK_PER_BYTE: f64 = 7.6;
/// The module's own data, stack and allocator slack.
const MODULE_BYTES: u64 = 2 << 20;
/// Every fitting model must still answer a prompt and answer this long.
pub const RESERVED_POSITIONS: u64 = 1024;

const MIB: u64 = 1 << 20;

/// The memory a checkpoint needs in the isolate, by what needs it.
pub struct Estimate {
    /// The weights in the run precision.
    weights: u64,
    /// The weight files, held while converted.
    files: u64,
    /// Parsing tokenizer.json.
    tokenizer: u64,
    /// One sequence's K/V cache for [`RESERVED_POSITIONS`] (f32) and its logits row.
    sequence: u64,
    /// Held throughout the load (a GGUF file, which the weights are converted from).
    held: u64,
}

impl Estimate {
    pub fn new(
        config: &ModelConfig,
        file_bytes: u64,
        tokenizer_bytes: u64,
        precision: Precision,
    ) -> Self {
        let weights = tensors(config)
            .iter()
            .map(|spec| {
                let elements = spec.shape.iter().product::<usize>() as u64;
                match spec.id.is_vocabulary() {
                    true => precision.for_vocabulary().bytes(elements),
                    false => precision.bytes(elements),
                }
            })
            .sum();
        let c = config;
        let kv_per_position =
            2 * (c.num_hidden_layers * c.num_key_value_heads * c.head_dim()) as u64 * 4;
        let positions = RESERVED_POSITIONS.min(c.max_position_embeddings as u64);
        Self {
            weights,
            files: file_bytes,
            tokenizer: (tokenizer_bytes as f64 * TOKENIZER_PEAK_PER_BYTE) as u64,
            sequence: kv_per_position * positions + c.vocab_size as u64 * 4,
            held: 0,
        }
    }

    /// With `bytes` held in memory for the whole load.
    pub fn holding(self, bytes: u64) -> Self {
        Self {
            held: bytes,
            ..self
        }
    }

    pub fn total(&self) -> u64 {
        MODULE_BYTES + self.held + self.weights + self.files.max(self.tokenizer) + self.sequence
    }

    /// `Err` with the breakdown when the total is over `limit` bytes.
    pub fn check(&self, limit: u64, precision: Precision) -> Result<(), String> {
        if self.total() <= limit {
            return Ok(());
        }
        let mib = |b: u64| b.div_ceil(MIB);
        Err(format!(
            "the model does not fit in the isolate: it needs about {} MiB in {precision} \
             (weights {}, then the larger of the weight files {} and parsing the tokenizer {}, \
             one {RESERVED_POSITIONS}-position sequence {}{}) \
             but the limit is {} MiB (MEMORY_LIMIT_MB); serve a smaller checkpoint here, or \
             set UPSTREAM_URL to forward to a server",
            mib(self.total()),
            mib(self.weights),
            mib(self.files),
            mib(self.tokenizer),
            mib(self.sequence),
            match self.held {
                0 => String::new(),
                held => format!(", the GGUF file held throughout {}", mib(held)),
            },
            mib(limit),
        ))
    }
}
