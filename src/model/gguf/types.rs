//! The ggml tensor types a GGUF file may store, numbered as ggml numbers them, with the
//! shape of their blocks: how many values one block holds and how many bytes it takes.

use std::fmt;

/// Values in one super-block of the k-quants.
pub const QK_K: usize = 256;

/// The tensor types we can read and dequantize. The discriminant is ggml's type id.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    BF16 = 30,
}

impl GgmlType {
    pub const ALL: [GgmlType; 14] = [
        Self::F32,
        Self::F16,
        Self::BF16,
        Self::Q4_0,
        Self::Q4_1,
        Self::Q5_0,
        Self::Q5_1,
        Self::Q8_0,
        Self::Q2_K,
        Self::Q3_K,
        Self::Q4_K,
        Self::Q5_K,
        Self::Q6_K,
        Self::Q8_K,
    ];

    pub fn from_id(id: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|ty| ty.id() == id)
    }

    pub fn id(self) -> u32 {
        self as u32
    }

    /// The name ggml and llama.cpp print ("Q4_K").
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::BF16 => "BF16",
            Self::Q4_0 => "Q4_0",
            Self::Q4_1 => "Q4_1",
            Self::Q5_0 => "Q5_0",
            Self::Q5_1 => "Q5_1",
            Self::Q8_0 => "Q8_0",
            Self::Q2_K => "Q2_K",
            Self::Q3_K => "Q3_K",
            Self::Q4_K => "Q4_K",
            Self::Q5_K => "Q5_K",
            Self::Q6_K => "Q6_K",
            Self::Q8_K => "Q8_K",
        }
    }

    /// Values per block; a row's length must be a multiple of it.
    pub fn block_size(self) -> usize {
        match self {
            Self::F32 | Self::F16 | Self::BF16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 => 32,
            Self::Q2_K | Self::Q3_K | Self::Q4_K | Self::Q5_K | Self::Q6_K | Self::Q8_K => QK_K,
        }
    }

    /// Bytes per block, from the C structs (`block_q4_K` etc.), which have no padding.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            // d, qs[16]
            Self::Q4_0 => 2 + 16,
            // d, m, qs[16]
            Self::Q4_1 => 2 + 2 + 16,
            // d, qh[4], qs[16]
            Self::Q5_0 => 2 + 4 + 16,
            // d, m, qh[4], qs[16]
            Self::Q5_1 => 2 + 2 + 4 + 16,
            // d, qs[32]
            Self::Q8_0 => 2 + 32,
            // scales[16], qs[64], d, dmin
            Self::Q2_K => QK_K / 16 + QK_K / 4 + 2 + 2,
            // hmask[32], qs[64], scales[12], d
            Self::Q3_K => QK_K / 8 + QK_K / 4 + 12 + 2,
            // d, dmin, scales[12], qs[128]
            Self::Q4_K => 2 + 2 + 12 + QK_K / 2,
            // d, dmin, scales[12], qh[32], qs[128]
            Self::Q5_K => 2 + 2 + 12 + QK_K / 8 + QK_K / 2,
            // ql[128], qh[64], scales[16], d
            Self::Q6_K => QK_K / 2 + QK_K / 4 + QK_K / 16 + 2,
            // d (f32), qs[256], bsums[16] (i16)
            Self::Q8_K => 4 + QK_K + QK_K / 16 * 2,
        }
    }

    /// Bytes that `elements` values take, or None when they are not a whole number of
    /// blocks or the size overflows.
    pub fn bytes_for(self, elements: u64) -> Option<u64> {
        let block = self.block_size() as u64;
        if !elements.is_multiple_of(block) {
            return None;
        }
        (elements / block).checked_mul(self.block_bytes() as u64)
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// ggml's name for a type id, including the types we do not read, so that an error can
/// say "IQ2_XXS" rather than only "16". Ids 4, 5, 31-33 and 36-38 were retired by ggml.
pub fn ggml_type_name(id: u32) -> Option<&'static str> {
    if let Some(ty) = GgmlType::from_id(id) {
        return Some(ty.name());
    }
    Some(match id {
        9 => "Q8_1",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_blocks_match_ggml() {
        for ty in GgmlType::ALL {
            assert_eq!(GgmlType::from_id(ty.id()), Some(ty));
            assert_eq!(ggml_type_name(ty.id()), Some(ty.name()));
        }
        // sizeof(block_*) in ggml-common.h
        let sizes = [
            (GgmlType::Q4_0, 18),
            (GgmlType::Q4_1, 20),
            (GgmlType::Q5_0, 22),
            (GgmlType::Q5_1, 24),
            (GgmlType::Q8_0, 34),
            (GgmlType::Q2_K, 84),
            (GgmlType::Q3_K, 110),
            (GgmlType::Q4_K, 144),
            (GgmlType::Q5_K, 176),
            (GgmlType::Q6_K, 210),
            (GgmlType::Q8_K, 292),
        ];
        for (ty, bytes) in sizes {
            assert_eq!(ty.block_bytes(), bytes, "{ty}");
        }
        assert_eq!(GgmlType::from_id(4), None);
        assert_eq!(ggml_type_name(42), None);
        assert_eq!(GgmlType::Q4_K.bytes_for(512), Some(288));
        assert_eq!(GgmlType::Q4_K.bytes_for(100), None);
    }
}
