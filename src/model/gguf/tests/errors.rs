//! `make_gguf_errors`: broken files derived from the fixture, and the messages they give.

use super::super::{Gguf, GgufError, optional};
use super::{Bytes, NAME, fixture};

/// Where tensor `name`'s info begins in the header (its name's length field).
fn info_at(bytes: &[u8], name: &str) -> usize {
    let mut needle = (name.len() as u64).to_le_bytes().to_vec();
    needle.extend(name.as_bytes());
    bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{name} not in the header"))
}

/// Byte offsets of a 2-d tensor's fields: dims[0], type, offset.
fn fields(bytes: &[u8], name: &str) -> (usize, usize, usize) {
    let dims = info_at(bytes, name) + 8 + name.len() + 4;
    (dims, dims + 16, dims + 20)
}

fn message(bytes: &[u8]) -> String {
    Gguf::parse(NAME, bytes).unwrap_err().to_string()
}

fn check(bytes: &[u8], expected: &str) {
    let got = message(bytes);
    assert!(got.starts_with(&format!("{NAME}: ")), "{got}");
    assert_eq!(got, expected);
}

#[test]
fn make_gguf_errors() {
    let good = fixture();
    let len = good.len();

    // Truncated in the middle of a string value.
    let key = info_at(&good, "test.string");
    let value = key + 8 + "test.string".len() + 4;
    check(
        &good[..value + 8 + 3],
        &format!(
            "{NAME}: truncated at byte {} while reading metadata key test.string (it needs bytes [{}, {}))",
            value + 11,
            value + 8,
            value + 8 + "h\u{e9}llo, w\u{f6}rld \u{2713}".len()
        ),
    );
    // Truncated inside the tensor infos.
    let (dims, _, _) = fields(&good, "blocks.Q5_1");
    check(
        &good[..dims + 3],
        &format!(
            "{NAME}: truncated at byte {} while reading dimension 0 of tensor blocks.Q5_1 (it needs bytes [{dims}, {}))",
            dims + 3,
            dims + 8
        ),
    );
    check(
        &good[..2],
        &format!("{NAME}: truncated at byte 2 while reading the magic (it needs bytes [0, 4))"),
    );

    // Wrong magic.
    let mut bad = good.clone();
    bad[..4].copy_from_slice(b"GGML");
    check(
        &bad,
        &format!("{NAME}: not a GGUF file (magic \"GGML\", expected \"GGUF\")"),
    );
    bad[..4].copy_from_slice(&[0x7f, b'E', b'L', b'F']);
    check(
        &bad,
        &format!("{NAME}: not a GGUF file (magic \"\\x7fELF\", expected \"GGUF\")"),
    );

    // Unknown, and known but unsupported, tensor types.
    let (_, ty, offset) = fields(&good, "blocks.Q4_K");
    let mut bad = good.clone();
    bad[ty..ty + 4].copy_from_slice(&42u32.to_le_bytes());
    check(
        &bad,
        &format!("{NAME}: unknown tensor type 42 for tensor blocks.Q4_K"),
    );
    bad[ty..ty + 4].copy_from_slice(&16u32.to_le_bytes());
    check(
        &bad,
        &format!(
            "{NAME}: tensor blocks.Q4_K has type IQ2_XXS (ggml type 16), which is not supported (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K)"
        ),
    );

    // Tensor data past the end: the file cut inside the last tensor, or an offset beyond it.
    let gguf = Gguf::parse(NAME, &good).unwrap();
    let last = gguf.tensors().last().unwrap();
    let range = last.range();
    check(
        &good[..range.start + 1],
        &format!(
            "{NAME}: tensor {}: data [{}, {}) lies outside the file of {} bytes",
            last.name,
            range.start,
            range.end,
            range.start + 1
        ),
    );
    let q4k = gguf.tensor("blocks.Q4_K").unwrap();
    let far = (len as u64).next_multiple_of(64);
    let mut bad = good.clone();
    bad[offset..offset + 8].copy_from_slice(&far.to_le_bytes());
    let start = gguf.data_start() + far;
    check(
        &bad,
        &format!(
            "{NAME}: tensor blocks.Q4_K: data [{start}, {}) lies outside the file of {len} bytes",
            start + q4k.byte_len() as u64
        ),
    );
    // An offset so large that the end overflows.
    bad[offset..offset + 8].copy_from_slice(&(u64::MAX - 63).to_le_bytes());
    assert!(matches!(
        Gguf::parse(NAME, &bad),
        Err(GgufError::OutsideFile { ref tensor, .. }) if tensor == "blocks.Q4_K"
    ));
    // An offset off the alignment.
    bad[offset..offset + 8].copy_from_slice(&(q4k.offset + 32).to_le_bytes());
    check(
        &bad,
        &format!(
            "{NAME}: tensor blocks.Q4_K: data offset {} is not a multiple of the alignment 64",
            q4k.offset + 32
        ),
    );

    // A row that is not a whole number of blocks.
    let (dims, _, _) = fields(&good, "blocks.Q4_K");
    let mut bad = good.clone();
    bad[dims..dims + 8].copy_from_slice(&1000u64.to_le_bytes());
    check(
        &bad,
        &format!(
            "{NAME}: tensor blocks.Q4_K: row length 1000 is not a multiple of Q4_K's block of 256 values"
        ),
    );

    // Versions.
    let mut bad = good.clone();
    bad[4..8].copy_from_slice(&1u32.to_le_bytes());
    check(
        &bad,
        &format!(
            "{NAME}: GGUF version 1 is not supported, only versions 2 and 3 are; version 1 (2023) used 32-bit counts: convert the model again with a current llama.cpp"
        ),
    );
    bad[4..8].copy_from_slice(&3u32.to_be_bytes());
    check(
        &bad,
        &format!(
            "{NAME}: GGUF version 50331648 is not supported, only versions 2 and 3 are; this looks like a big-endian file (version 3), and only little-endian files are read"
        ),
    );
    bad[4..8].copy_from_slice(&4u32.to_le_bytes());
    check(
        &bad,
        &format!("{NAME}: GGUF version 4 is not supported, only versions 2 and 3 are"),
    );
    // Version 2 has the same little-endian layout.
    bad[4..8].copy_from_slice(&2u32.to_le_bytes());
    let v2 = Gguf::parse(NAME, &bad).unwrap();
    assert_eq!(v2.version(), 2);
    assert_eq!(v2.tensors(), gguf.tensors());

    // A bool that is neither 0 nor 1, and an unknown value type.
    let key = info_at(&good, "test.bool");
    let value = key + 8 + "test.bool".len() + 4;
    let mut bad = good.clone();
    bad[value] = 2;
    check(
        &bad,
        &format!("{NAME}: metadata key test.bool (at byte {value}): a bool is 0 or 1, not 2"),
    );
    let mut bad = good.clone();
    bad[value - 4..value].copy_from_slice(&13u32.to_le_bytes());
    check(
        &bad,
        &format!(
            "{NAME}: the type of metadata key test.bool (at byte {}): unknown value type 13",
            value - 4
        ),
    );
    // A string length beyond the file: an error, not an allocation.
    let key = info_at(&good, "test.string");
    let value = key + 8 + "test.string".len() + 4;
    let mut bad = good.clone();
    bad[value..value + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    check(
        &bad,
        &format!(
            "{NAME}: truncated at byte {len} while reading metadata key test.string (it needs bytes [{}, {}))",
            value + 8,
            u64::MAX
        ),
    );
    // An array count beyond the file.
    let key = info_at(&good, "test.array.i32");
    let count = key + 8 + "test.array.i32".len() + 4 + 4;
    let mut bad = good.clone();
    bad[count..count + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    check(
        &bad,
        &format!(
            "{NAME}: truncated at byte {len} while reading metadata key test.array.i32 (it needs bytes [{}, {}))",
            count + 8,
            count + 8 + (4 << 40)
        ),
    );
    // Invalid UTF-8 in a string.
    let key = info_at(&good, "test.string");
    let value = key + 8 + "test.string".len() + 4;
    let mut bad = good.clone();
    bad[value + 8] = 0xff;
    let got = message(&bad);
    assert!(
        got.starts_with(&format!(
            "{NAME}: metadata key test.string (at byte {}): the string is not UTF-8",
            value + 8
        )),
        "{got}"
    );
    // A duplicated tensor name (blocks.F16 renamed blocks.F32).
    let mut bad = good.clone();
    let at = info_at(&good, "blocks.F16") + 8;
    bad[at..at + 10].copy_from_slice(b"blocks.F32");
    check(
        &bad,
        &format!("{NAME}: tensor blocks.F32: the name appears twice"),
    );
}

fn err<T: std::fmt::Debug>(r: Result<T, GgufError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn lookup_errors() {
    let bytes = fixture();
    let g = Gguf::parse(NAME, &bytes).unwrap();
    assert_eq!(
        err(g.get_u32("test.string")),
        format!("{NAME}: metadata key test.string is a string, expected a u32")
    );
    assert_eq!(
        err(g.get_u32("test.i32")),
        format!("{NAME}: metadata key test.i32 is i32 -2000000000, expected a u32")
    );
    assert_eq!(
        err(g.get_i32("test.u32")),
        format!("{NAME}: metadata key test.u32 is u32 4000000000, expected an i32")
    );
    assert_eq!(
        err(g.get_f32("test.u8")),
        format!("{NAME}: metadata key test.u8 is u8 200, expected an f32")
    );
    assert_eq!(
        err(g.get_str_array("test.array.i32")),
        format!(
            "{NAME}: metadata key test.array.i32 is an array of 3 i32, expected an array of strings"
        )
    );
    assert_eq!(
        err(g.get_bool("llama.context_length")),
        format!("{NAME}: metadata key llama.context_length is missing")
    );
    assert_eq!(optional(g.get_u32("llama.context_length")), Ok(None));
    assert_eq!(optional(g.get_u32("test.u16")), Ok(Some(60000)));
    assert!(optional(g.get_u32("test.string")).is_err());
    assert_eq!(
        err(g.tensor("blk.0.attn_q.weight")),
        format!("{NAME}: tensor blk.0.attn_q.weight is missing")
    );
    // The output buffer must match the tensor.
    let mut out = vec![0.0; 10];
    assert_eq!(
        err(g.dequantize_tensor(&bytes, "blocks.Q4_0", &mut out)),
        format!(
            "{NAME}: tensor blocks.Q4_0: Q4_0 data of 144 bytes holds 256 values, but the output has room for 10"
        )
    );
    // Data asked of a shorter buffer than the file parsed.
    let info = g.tensor("blocks.Q6_K").unwrap();
    let short = &bytes[..info.range().start];
    assert_eq!(
        err(g.tensor_data(short, "blocks.Q6_K")),
        format!(
            "{NAME}: tensor blocks.Q6_K: data [{}, {}) lies outside the file of {} bytes",
            info.range().start,
            info.range().end,
            short.len()
        )
    );
}

#[test]
fn hand_made_headers() {
    // No tensors, no metadata: valid, and the data section would start at 32.
    let g = Gguf::parse("empty.gguf", &Bytes::header(0, 0).0).unwrap();
    assert_eq!(
        (g.tensors().len(), g.metadata().len(), g.data_start()),
        (0, 0, 32)
    );

    // A count of entries that cannot fit.
    let bytes = Bytes::header(0, u64::MAX).0;
    assert_eq!(
        Gguf::parse("x.gguf", &bytes).unwrap_err().to_string(),
        "x.gguf: truncated at byte 24 while reading the length of the key of metadata entry 0 (it needs bytes [24, 32))"
    );
    let bytes = Bytes::header(1 << 40, 0).str("t").u32(0).u32(0).u64(0).0;
    assert_eq!(
        Gguf::parse("x.gguf", &bytes).unwrap_err().to_string(),
        "x.gguf: truncated at byte 49 while reading the length of the name of tensor 1 (it needs bytes [49, 57))"
    );
    // An array of strings whose count is too large fails on the strings that are not there.
    let bytes = Bytes::header(0, 1)
        .str("k")
        .u32(9)
        .u32(8)
        .u64(u64::MAX)
        .str("a")
        .0;
    assert_eq!(
        Gguf::parse("x.gguf", &bytes).unwrap_err().to_string(),
        "x.gguf: truncated at byte 58 while reading the length of item 1 of metadata key k (it needs bytes [58, 66))"
    );

    // Arrays nested past the limit fail without recursing far.
    let mut b = Bytes::header(0, 1).str("k").u32(9);
    for _ in 0..10_000 {
        b = b.u32(9).u64(1);
    }
    assert_eq!(
        Gguf::parse("x.gguf", &b.0).unwrap_err().to_string(),
        "x.gguf: item 0 of item 0 of item 0 of item 0 of item 0 of item 0 of item 0 of metadata key k (at byte 121): arrays nest more than 8 deep"
    );

    // A duplicated key.
    let b = Bytes::header(0, 2)
        .str("a")
        .u32(4)
        .u32(1)
        .str("a")
        .u32(4)
        .u32(2);
    assert_eq!(
        Gguf::parse("x.gguf", &b.0).unwrap_err().to_string(),
        "x.gguf: metadata key a (at byte 41): the key appears twice"
    );

    // general.alignment: honoured, and checked.
    let tensor = |b: Bytes| b.str("t").u32(1).u64(8).u32(0).u64(0);
    let b = tensor(Bytes::header(1, 1).str("general.alignment").u32(4).u32(128));
    let header_len = b.0.len();
    let mut bytes = b.0;
    bytes.resize(128 + 32, 0);
    let g = Gguf::parse("x.gguf", &bytes).unwrap();
    assert!(header_len < 128);
    assert_eq!((g.alignment(), g.data_start()), (128, 128));
    assert_eq!(g.tensor("t").unwrap().range(), 128..160);
    let b = Bytes::header(0, 1).str("general.alignment").u32(4).u32(48);
    assert_eq!(
        Gguf::parse("x.gguf", &b.0).unwrap_err().to_string(),
        "x.gguf: metadata key general.alignment (at byte 53): is u32 48, expected a u32 power of two"
    );
    let b = Bytes::header(0, 1)
        .str("general.alignment")
        .u32(8)
        .str("64");
    assert!(
        Gguf::parse("x.gguf", &b.0)
            .unwrap_err()
            .to_string()
            .contains("is a string, expected a u32 power of two")
    );

    // Too many dimensions, and dimensions whose product overflows.
    let b = Bytes::header(1, 0).str("t").u32(5);
    assert_eq!(
        Gguf::parse("x.gguf", &b.0).unwrap_err().to_string(),
        "x.gguf: tensor t: 5 dimensions (at byte 33), more than ggml's 4"
    );
    let b = Bytes::header(1, 0)
        .str("t")
        .u32(2)
        .u64(1 << 40)
        .u64(1 << 40)
        .u32(0)
        .u64(0);
    assert_eq!(
        Gguf::parse("x.gguf", &b.0).unwrap_err().to_string(),
        "x.gguf: tensor t: dims [1099511627776, 1099511627776] overflow"
    );
    // Elements that fit in u64 but whose bytes do not.
    let b = Bytes::header(1, 0)
        .str("t")
        .u32(1)
        .u64(u64::MAX / 2)
        .u32(0)
        .u64(0);
    assert!(matches!(
        Gguf::parse("x.gguf", &b.0),
        Err(GgufError::OutsideFile { .. })
    ));
}
