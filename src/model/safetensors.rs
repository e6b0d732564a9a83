//! The safetensors format: an 8-byte little-endian header length, a JSON header of
//! `{name: {dtype, shape, data_offsets}}`, then the raw data. Parsed by hand so that every
//! problem is reported with the file and tensor it concerns.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::gguf::GgmlType;
use super::{LoadError, TensorError};

/// File contents shared without copying: the file read into memory natively, a fetched buffer in wasm.
pub type Blob = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A weights file as the loader reads it: in memory (a [`Blob`]), or outside it and read a
/// tensor at a time, so that loading never holds a second copy of the whole file (the
/// browser's fetched files stay in JavaScript memory, outside the wasm heap).
pub trait Contents: Send + Sync {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of `range` (within `len()`), as a blob and the range they lie at in it:
    /// the blob itself when in memory, else a copy of just those bytes.
    fn read(&self, range: Range<usize>) -> (Blob, Range<usize>);
}

impl Contents for Box<dyn Contents> {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn read(&self, range: Range<usize>) -> (Blob, Range<usize>) {
        (**self).read(range)
    }
}

impl Contents for Blob {
    fn len(&self) -> usize {
        (**self).as_ref().len()
    }

    fn read(&self, range: Range<usize>) -> (Blob, Range<usize>) {
        (self.clone(), range)
    }
}

/// How a checkpoint stores a tensor's values: a float dtype (safetensors, GGUF), or one of
/// ggml's block types (GGUF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileDType {
    F32,
    F16,
    BF16,
    /// Blocks of `block_size()` values in `block_bytes()` bytes, along each row.
    Block(GgmlType),
}

impl FileDType {
    /// Bytes per value of a float dtype (a block type has none: see [`FileDType::bytes`]).
    pub fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::Block(ty) => ty.block_bytes() / ty.block_size(),
        }
    }

    /// The bytes `values` consecutive values take; for a block type, `values` is a whole
    /// number of blocks.
    pub fn bytes(self, values: usize) -> usize {
        match self {
            Self::Block(ty) => values / ty.block_size() * ty.block_bytes(),
            other => values * other.size(),
        }
    }

    /// The values `bytes` stored bytes hold.
    pub fn values(self, bytes: usize) -> usize {
        match self {
            Self::Block(ty) => bytes / ty.block_bytes() * ty.block_size(),
            other => bytes / other.size(),
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "f32" | "float32" => Some(Self::F32),
            "f16" | "float16" => Some(Self::F16),
            "bf16" | "bfloat16" => Some(Self::BF16),
            _ => None,
        }
    }

    pub fn torch_name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::F16 => "float16",
            Self::BF16 => "bfloat16",
            Self::Block(ty) => ty.name(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// One parsed safetensors file.
pub struct SafeTensors {
    file: String,
    contents: Box<dyn Contents>,
    data_start: usize,
    entries: HashMap<String, Entry>,
}

/// A tensor's bytes as stored, before any conversion.
pub struct RawTensor<'a> {
    pub dtype: FileDType,
    pub shape: &'a [usize],
    pub bytes: &'a [u8],
}

/// A tensor's bytes read from its file, with the blob they lie in (which a converter may
/// keep instead of copying).
pub struct ReadTensor<'a> {
    pub dtype: FileDType,
    pub shape: &'a [usize],
    pub blob: Blob,
    range: Range<usize>,
}

impl ReadTensor<'_> {
    pub fn raw(&self) -> RawTensor<'_> {
        RawTensor {
            dtype: self.dtype,
            shape: self.shape,
            bytes: &(*self.blob).as_ref()[self.range.clone()],
        }
    }
}

impl SafeTensors {
    pub fn parse(file: &str, contents: impl Contents + 'static) -> Result<Self, LoadError> {
        let bad = |message: String| LoadError::BadHeader {
            file: file.to_string(),
            message,
        };
        let len = contents.len();
        if len < 8 {
            return Err(bad(format!("only {len} bytes long")));
        }
        let (blob, at) = contents.read(0..8);
        let len_bytes: [u8; 8] = (*blob).as_ref()[at].try_into().expect("8 bytes");
        let header_len = u64::from_le_bytes(len_bytes) as usize;
        if header_len > len - 8 {
            return Err(bad(format!(
                "the header claims {header_len} bytes but the file has {len} (truncated?)"
            )));
        }
        let (blob, at) = contents.read(8..8 + header_len);
        let header = &(*blob).as_ref()[at];
        let mut raw: HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| bad(format!("header JSON: {e}")))?;
        raw.remove("__metadata__");
        let mut entries = HashMap::with_capacity(raw.len());
        for (name, value) in raw {
            let entry: Entry = serde_json::from_value(value)
                .map_err(|e| bad(format!("header entry {name}: {e}")))?;
            entries.insert(name, entry);
        }
        Ok(Self {
            file: file.to_string(),
            data_start: 8 + header_len,
            contents: Box::new(contents),
            entries,
        })
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The bytes its header says the tensors take.
    pub fn data_len(&self) -> u64 {
        self.entries
            .values()
            .map(|e| e.data_offsets[1].saturating_sub(e.data_offsets[0]) as u64)
            .sum()
    }

    /// The tensor's bytes, checked against its dtype, shape and the file's length.
    pub fn tensor(&self, name: &str) -> Result<ReadTensor<'_>, LoadError> {
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| LoadError::MissingTensor {
                file: self.file.clone(),
                tensor: name.to_string(),
            })?;
        let dtype = FileDType::parse(&entry.dtype).ok_or_else(|| LoadError::Dtype {
            file: self.file.clone(),
            tensor: name.to_string(),
            dtype: entry.dtype.clone(),
        })?;
        let [start, end] = entry.data_offsets;
        let available = self.contents.len().saturating_sub(self.data_start);
        if start > end || end > available {
            return Err(LoadError::Truncated {
                file: self.file.clone(),
                tensor: name.to_string(),
                start,
                end,
                available,
            });
        }
        let expected = dtype.bytes(entry.shape.iter().product::<usize>());
        if end - start != expected {
            return Err(LoadError::Tensor {
                file: self.file.clone(),
                tensor: name.to_string(),
                source: TensorError::Size {
                    stored: end - start,
                    shape: entry.shape.clone(),
                    dtype: format!("{dtype:?}"),
                    needed: expected,
                },
            });
        }
        let (blob, range) = self
            .contents
            .read(self.data_start + start..self.data_start + end);
        Ok(ReadTensor {
            dtype,
            shape: &entry.shape,
            blob,
            range,
        })
    }
}

/// Serializes tensors (already in their on-disk byte form) as one safetensors file.
/// Names are written in sorted order so the same tensors always give the same bytes.
pub fn serialize(tensors: &BTreeMap<String, (FileDType, Vec<usize>, Vec<u8>)>) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, (dtype, shape, bytes)) in tensors {
        let entry = Entry {
            dtype: format!("{dtype:?}"),
            shape: shape.clone(),
            data_offsets: [offset, offset + bytes.len()],
        };
        offset += bytes.len();
        header.insert(
            name.clone(),
            serde_json::to_value(entry).expect("entry serializes"),
        );
    }
    let mut meta = serde_json::Map::new();
    meta.insert("format".into(), "pt".into());
    header.insert("__metadata__".into(), meta.into());
    let mut json = serde_json::to_vec(&header).expect("header serializes");
    // Pad so that the data section starts 8-byte aligned, as the reference writer does.
    while !(8 + json.len()).is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for (_, _, bytes) in tensors.values() {
        out.extend_from_slice(bytes);
    }
    out
}
