//! A checkpoint's weights: `model.safetensors`, or shards listed by
//! `model.safetensors.index.json`, turned into tensors of the run dtype on a device.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use burn::tensor::{DType, Device, Tensor, TensorData, bf16, f16};

use super::architecture::{LayerTensor, TensorId};
use super::gguf::{GgmlType, Gguf};
use super::safetensors::{Blob, Contents, FileDType, RawTensor, SafeTensors};
use super::{LoadError, ModelConfig, TensorError};

pub const SINGLE_FILE: &str = "model.safetensors";
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Where a checkpoint's files come from: a directory natively, fetched buffers in wasm.
pub trait FileSource {
    /// Where the files are, for error messages.
    fn location(&self) -> String;
    /// The whole file, or `None` when it does not exist.
    fn read(&self, file: &str) -> Result<Option<Blob>, LoadError>;

    fn require(&self, file: &str) -> Result<Blob, LoadError> {
        self.read(file)?.ok_or_else(|| self.missing(file))
    }

    /// A weights file, for reading a tensor at a time; by default the whole file read.
    fn contents(&self, file: &str) -> Result<Box<dyn Contents>, LoadError> {
        Ok(Box::new(self.require(file)?))
    }

    fn missing(&self, file: &str) -> LoadError {
        LoadError::MissingFile {
            file: file.to_string(),
            location: self.location(),
        }
    }
}

/// An in-memory set of files (tests, and wasm after fetching).
impl FileSource for HashMap<String, Blob> {
    fn location(&self) -> String {
        "the loaded files".into()
    }

    fn read(&self, file: &str) -> Result<Option<Blob>, LoadError> {
        Ok(self.get(file).cloned())
    }
}

/// `model.safetensors.index.json`: which shard holds each tensor.
#[derive(serde::Deserialize)]
pub struct ShardIndex {
    weight_map: HashMap<String, String>,
}

impl ShardIndex {
    pub fn parse(bytes: &[u8]) -> Result<Self, LoadError> {
        let index: Self = serde_json::from_slice(bytes).map_err(|e| LoadError::Json {
            file: INDEX_FILE.into(),
            message: e.to_string(),
        })?;
        // Shard names become paths and URLs: only plain file names in the same directory.
        if let Some(bad) = index
            .weight_map
            .values()
            .find(|name| name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.'))
        {
            return Err(LoadError::Json {
                file: INDEX_FILE.into(),
                message: format!("shard {bad:?} is not a file name in the checkpoint directory"),
            });
        }
        Ok(index)
    }

    /// The shard file names, sorted, each once.
    pub fn shards(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.weight_map.values().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Told after each tensor is loaded: bytes of weights loaded so far, and in all.
pub type LoadProgress = Box<dyn Fn(u64, u64)>;

/// The files holding the weights and which file holds each tensor.
pub struct Weights {
    files: Files,
    /// What to name in "tensor missing" errors.
    origin: String,
    progress: Option<LoadProgress>,
    loaded: Cell<u64>,
}

enum Files {
    Safetensors {
        files: Vec<SafeTensors>,
        by_name: HashMap<String, usize>,
    },
    /// One GGUF file, its tensors under GGUF's names.
    Gguf {
        header: Gguf,
        blob: Blob,
        /// `(heads, kv_heads, head_dim)` when q/k rows were permuted by llama.cpp's converter.
        permuted: Option<(usize, usize, usize)>,
    },
}

impl Weights {
    pub fn open(source: &dyn FileSource) -> Result<Self, LoadError> {
        match source.read(INDEX_FILE)? {
            Some(index) => Self::open_sharded(source, index),
            None => {
                let file = SafeTensors::parse(SINGLE_FILE, source.contents(SINGLE_FILE)?)?;
                let by_name = file.names().map(|n| (n.to_string(), 0)).collect();
                Ok(Self::new(vec![file], by_name, SINGLE_FILE))
            }
        }
    }

    /// The tensors of a parsed GGUF file (`blob` its bytes) of a model shaped as `config`.
    pub fn gguf(header: Gguf, blob: Blob, config: &ModelConfig) -> Self {
        let permuted = config.family.spec().gguf_permuted_qk.then_some((
            config.num_attention_heads,
            config.num_key_value_heads,
            config.head_dim(),
        ));
        Self {
            origin: header.file().to_string(),
            files: Files::Gguf {
                header,
                blob,
                permuted,
            },
            progress: None,
            loaded: Cell::new(0),
        }
    }

    fn open_sharded(source: &dyn FileSource, index: Blob) -> Result<Self, LoadError> {
        let index = ShardIndex::parse((*index).as_ref())?;
        let shard_names = index.shards();
        let mut files = Vec::with_capacity(shard_names.len());
        for name in &shard_names {
            files.push(SafeTensors::parse(name, source.contents(name)?)?);
        }
        let mut by_name = HashMap::with_capacity(index.weight_map.len());
        for (tensor, shard) in &index.weight_map {
            let at = shard_names
                .binary_search(&shard.as_str())
                .expect("shard listed");
            if !files[at].contains(tensor) {
                return Err(LoadError::MissingTensor {
                    file: shard.clone(),
                    tensor: format!("{tensor} (listed in {INDEX_FILE})"),
                });
            }
            by_name.insert(tensor.clone(), at);
        }
        Ok(Self::new(files, by_name, INDEX_FILE))
    }

    fn new(files: Vec<SafeTensors>, by_name: HashMap<String, usize>, origin: &str) -> Self {
        Self {
            files: Files::Safetensors { files, by_name },
            origin: origin.into(),
            progress: None,
            loaded: Cell::new(0),
        }
    }

    /// Reports each loaded tensor to `progress` (a progress bar, the browser's onProgress).
    pub fn with_progress(mut self, progress: LoadProgress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The bytes of every tensor in the files.
    pub fn total_bytes(&self) -> u64 {
        match &self.files {
            Files::Safetensors { files, .. } => files.iter().map(SafeTensors::data_len).sum(),
            Files::Gguf { header, .. } => {
                header.tensors().iter().map(|t| t.byte_len() as u64).sum()
            }
        }
    }

    pub fn contains(&self, id: TensorId) -> bool {
        match &self.files {
            Files::Safetensors { by_name, .. } => by_name.contains_key(&id.name()),
            Files::Gguf { header, .. } => header.tensor(&id.gguf_name()).is_ok(),
        }
    }

    /// Hands `id` (checked to have `shape`) to `f` with the name of the file it is in, its
    /// stored form, and the contents its bytes lie in.
    fn with_tensor<T>(
        &self,
        id: TensorId,
        shape: &[usize],
        f: impl FnOnce(&str, &RawTensor<'_>, &Blob) -> Result<T, LoadError>,
    ) -> Result<T, LoadError> {
        let shape_error = |file: &str, name: String, found: &[usize]| LoadError::Shape {
            file: file.to_string(),
            tensor: name,
            expected: shape.to_vec(),
            found: found.to_vec(),
        };
        match &self.files {
            Files::Safetensors { files, by_name } => {
                let name = id.name();
                let file = by_name.get(&name).map(|&i| &files[i]).ok_or_else(|| {
                    LoadError::MissingTensor {
                        file: self.origin.clone(),
                        tensor: name.clone(),
                    }
                })?;
                let read = file.tensor(&name)?;
                if read.shape != shape {
                    return Err(shape_error(file.file(), name, read.shape));
                }
                f(file.file(), &read.raw(), &read.blob)
            }
            Files::Gguf {
                header,
                blob,
                permuted,
            } => {
                let name = id.gguf_name();
                let info = header.tensor(&name)?;
                let found = info.shape();
                if found != shape {
                    return Err(shape_error(header.file(), name, &found));
                }
                let bytes = header.tensor_data((**blob).as_ref(), &name)?;
                let dtype = match info.ty {
                    GgmlType::F32 => FileDType::F32,
                    GgmlType::F16 => FileDType::F16,
                    GgmlType::BF16 => FileDType::BF16,
                    other => FileDType::Block(other),
                };
                let heads = match (id, permuted) {
                    (
                        TensorId::Layer(_, LayerTensor::Q | LayerTensor::QBias),
                        Some((heads, _, d)),
                    ) => Some((*heads, *d)),
                    (TensorId::Layer(_, LayerTensor::K | LayerTensor::KBias), Some((_, kv, d))) => {
                        Some((*kv, *d))
                    }
                    _ => None,
                };
                match heads {
                    None => f(
                        header.file(),
                        &RawTensor {
                            dtype,
                            shape: &found,
                            bytes,
                        },
                        blob,
                    ),
                    Some((heads, d)) => {
                        let rows: Blob = Arc::new(unpermute(bytes, heads, d));
                        let bytes = (*rows).as_ref();
                        f(
                            header.file(),
                            &RawTensor {
                                dtype,
                                shape: &found,
                                bytes,
                            },
                            &rows,
                        )
                    }
                }
            }
        }
    }

    /// Loads `id`, checks it has `shape`, and converts it to `dtype` on `device`.
    pub fn load<const D: usize>(
        &self,
        id: TensorId,
        shape: [usize; D],
        device: &Device,
        dtype: DType,
    ) -> Result<Tensor<D>, LoadError> {
        let rows = shape.first().copied().unwrap_or(1);
        let mut parts = self.load_row_chunks(id, &shape, rows, device, dtype)?;
        Ok(parts.pop().expect("one chunk"))
    }

    /// Loads `id` (checked to have `shape`) as consecutive blocks of at most `rows` rows
    /// of its first dimension: how a matrix too large for one GPU buffer is placed.
    pub fn load_row_chunks<const D: usize>(
        &self,
        id: TensorId,
        shape: &[usize; D],
        rows: usize,
        device: &Device,
        dtype: DType,
    ) -> Result<Vec<Tensor<D>>, LoadError> {
        self.with_tensor(id, shape, |file, raw, _| {
            let context = |source: TensorError| LoadError::Tensor {
                file: file.to_string(),
                tensor: id.name(),
                source,
            };
            // A 1-row view of an empty or scalar tensor still yields one (empty) block.
            let total_rows = shape.first().copied().unwrap_or(1).max(1);
            let rows = rows.clamp(1, total_rows);
            let row_bytes = raw.bytes.len() / total_rows;
            let mut parts = Vec::with_capacity(total_rows.div_ceil(rows));
            for start in (0..total_rows).step_by(rows) {
                let end = (start + rows).min(total_rows);
                let mut part_shape = *shape;
                if let Some(first) = part_shape.first_mut() {
                    *first = (*first).min(end - start);
                }
                let part = RawTensor {
                    dtype: raw.dtype,
                    shape: &part_shape,
                    bytes: &raw.bytes[start * row_bytes..end * row_bytes],
                };
                let data = convert(&part, dtype).map_err(context)?;
                parts.push(Tensor::from_data(data, (device, dtype)));
                self.advance(part.bytes.len());
            }
            Ok(parts)
        })
    }

    /// Hands `id` (checked to have `shape`) as stored, with the file contents it lies in, to
    /// `convert`; its error is reported against the file and tensor.
    pub fn with_raw<T>(
        &self,
        id: TensorId,
        shape: &[usize],
        convert: impl FnOnce(&RawTensor<'_>, &Blob) -> Result<T, TensorError>,
    ) -> Result<T, LoadError> {
        self.with_tensor(id, shape, |file, raw, blob| {
            let converted = convert(raw, blob).map_err(|source| LoadError::Tensor {
                file: file.to_string(),
                tensor: id.name(),
                source,
            })?;
            self.advance(raw.bytes.len());
            Ok(converted)
        })
    }

    fn advance(&self, bytes: usize) {
        if let Some(progress) = &self.progress {
            self.loaded.set(self.loaded.get() + bytes as u64);
            progress(self.loaded.get(), self.total_bytes());
        }
    }
}

/// llama.cpp's converter stores each head's q/k rows interleaved (row `2j + half` holds
/// Hugging Face's row `half * d/2 + j`) for its pairwise RoPE; this restores the halves our
/// rotate-half RoPE reads. Rows move whole, so any block type moves unchanged.
fn unpermute(bytes: &[u8], heads: usize, d: usize) -> Vec<u8> {
    let row = bytes.len() / (heads * d);
    let mut out = vec![0u8; bytes.len()];
    for h in 0..heads {
        for half in 0..2 {
            for j in 0..d / 2 {
                let (to, from) = (h * d + half * d / 2 + j, h * d + 2 * j + half);
                out[to * row..(to + 1) * row].copy_from_slice(&bytes[from * row..(from + 1) * row]);
            }
        }
    }
    out
}

/// Converts stored bytes to the run dtype on the host, so every backend receives the dtype it
/// computes in (WebGPU has no bf16, flex is fastest on native f32).
fn convert(raw: &RawTensor<'_>, dtype: DType) -> Result<TensorData, TensorError> {
    let shape = raw.shape.to_vec();
    let f32s = || super::cpu::to_f32(raw);
    Ok(match dtype {
        DType::F32 => TensorData::new(f32s(), shape),
        DType::F16 if raw.dtype == FileDType::F16 => {
            TensorData::from_bytes_vec(raw.bytes.to_vec(), shape, DType::F16)
        }
        DType::BF16 if raw.dtype == FileDType::BF16 => {
            TensorData::from_bytes_vec(raw.bytes.to_vec(), shape, DType::BF16)
        }
        DType::F16 => TensorData::new(f32s().into_iter().map(f16::from_f32).collect(), shape),
        DType::BF16 => TensorData::new(f32s().into_iter().map(bf16::from_f32).collect(), shape),
        other => return Err(TensorError::Convert(format!("{other:?}"))),
    })
}
