//! How the weights are held: a float dtype, or weight-only int8/int4 quantization at load.

use burn::tensor::DType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F16,
    BF16,
    /// int8 levels with an f16 scale per block of 32 (llama.cpp's q8_0).
    Q8,
    /// int4 levels with an f16 scale per block of 32 (llama.cpp's q4_0).
    Q4,
}

impl Precision {
    pub const NAMES: &str = "f32, f16, bf16, q8 or q4";

    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "f32" | "float32" => Some(Self::F32),
            "f16" | "float16" => Some(Self::F16),
            "bf16" | "bfloat16" => Some(Self::BF16),
            "q8" | "q8_0" | "int8" => Some(Self::Q8),
            "q4" | "q4_0" | "int4" => Some(Self::Q4),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::BF16 => "bf16",
            Self::Q8 => "q8",
            Self::Q4 => "q4",
        }
    }

    /// The bytes `elements` weights take, scales included.
    pub fn bytes(self, elements: u64) -> u64 {
        match self {
            Self::F32 => elements * 4,
            Self::F16 | Self::BF16 => elements * 2,
            Self::Q8 => elements + elements / 32 * 2,
            Self::Q4 => elements / 2 + elements / 32 * 2,
        }
    }

    /// What the embedding and lm_head are held in: the output projection decides every token,
    /// so in q4 they stay in q8, as llama.cpp's q4_0 files keep them.
    pub fn for_vocabulary(self) -> Self {
        match self {
            Self::Q4 => Self::Q8,
            other => other,
        }
    }

    /// The dtype a tensor network computes in, `None` for the quantized formats, which only
    /// the CPU kernels read.
    pub fn float_dtype(self) -> Option<DType> {
        match self {
            Self::F32 => Some(DType::F32),
            Self::F16 => Some(DType::F16),
            Self::BF16 => Some(DType::BF16),
            Self::Q8 | Self::Q4 => None,
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
