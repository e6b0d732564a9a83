//! The GGUF container (versions 2 and 3, little-endian): the magic "GGUF", a u32 version,
//! u64 tensor and metadata counts, the metadata key/values, the tensor infos, then the
//! tensor data from the next multiple of `general.alignment` (32 when absent).
//!
//! Parsed from a byte slice, natively the file read into memory: the header is read into owned values,
//! the tensors are only located (and checked to lie in the file), never copied. No length
//! or count read from the file is allocated for before its bytes are known to be there.

use std::collections::HashMap;
use std::ops::Range;

use super::GgufError;
use super::dequant::{DequantError, dequantize};
use super::types::{GgmlType, ggml_type_name};
use super::value::{Array, Value, ValueType};

pub const ALIGNMENT_KEY: &str = "general.alignment";
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's GGML_MAX_DIMS.
pub const MAX_DIMS: u32 = 4;
/// Arrays of arrays nest at most this deep; real files nest once at most, and the limit
/// keeps a corrupt file from recursing through the stack.
const MAX_NESTING: usize = 8;
/// The most metadata entries or tensor infos reserved for before they are read.
const RESERVE: u64 = 4096;

/// One tensor's description; its data lies at `range()` in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// In GGUF order: `dims[0]` varies fastest (the row length); the reverse of a
    /// row-major (numpy, safetensors) shape.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// From the start of the data section.
    pub offset: u64,
    range: Range<usize>,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        // Checked not to overflow when the file was parsed.
        self.dims.iter().product()
    }

    /// Values per row (`dims[0]`); 1 for a scalar.
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    pub fn rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }

    /// Bytes per row, a whole number of blocks (checked when the file was parsed).
    pub fn row_bytes(&self) -> usize {
        (self.row_len() / self.ty.block_size() as u64) as usize * self.ty.block_bytes()
    }

    /// The row-major shape (outermost first), as safetensors and burn write shapes.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Where the data lies in the file, in bytes.
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    pub fn byte_len(&self) -> usize {
        self.range.len()
    }
}

/// A parsed GGUF header.
#[derive(Debug, Clone)]
pub struct Gguf {
    file: String,
    version: u32,
    len: u64,
    alignment: u64,
    data_start: u64,
    metadata: Vec<(String, Value)>,
    keys: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    names: HashMap<String, usize>,
}

impl Gguf {
    /// Reads the header of `bytes`, the whole file; `file` names it in errors.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, GgufError> {
        let mut r = Reader {
            file,
            bytes,
            pos: 0,
        };
        let magic: [u8; 4] = r.array(&|| "the magic".into())?;
        if &magic != b"GGUF" {
            return Err(GgufError::Magic {
                file: file.to_string(),
                found: format!("\"{}\"", magic.escape_ascii()),
            });
        }
        let version = r.u32(&|| "the version".into())?;
        check_version(file, version)?;
        let tensor_count = r.u64(&|| "the tensor count".into())?;
        let kv_count = r.u64(&|| "the metadata count".into())?;

        // Counts are not trusted for reservations beyond a bound: a corrupt count fails on
        // the entries (truncated), having allocated only for the entries actually read.
        let mut metadata = Vec::with_capacity(kv_count.min(RESERVE) as usize);
        let mut keys = HashMap::with_capacity(kv_count.min(RESERVE) as usize);
        let mut alignment = DEFAULT_ALIGNMENT;
        for i in 0..kv_count {
            let at = r.pos;
            let key = r.string(&|| format!("the key of metadata entry {i}"))?;
            let what = || format!("metadata key {key}");
            let ty = r.value_type(&|| format!("the type of metadata key {key}"))?;
            let value_at = r.pos;
            let value = r.value(ty, 0, &what)?;
            if key == ALIGNMENT_KEY {
                alignment = match value.as_u64().and_then(|a| u32::try_from(a).ok()) {
                    Some(a) if a.is_power_of_two() => a.into(),
                    _ => {
                        let message =
                            format!("is {}, expected a u32 power of two", value.describe());
                        return Err(r.format_error(value_at, &what, message));
                    }
                };
            }
            if keys.insert(key.clone(), metadata.len()).is_some() {
                return Err(r.format_error(at, &what, "the key appears twice".into()));
            }
            metadata.push((key, value));
        }

        let mut gguf = Self {
            file: file.to_string(),
            version,
            len: bytes.len() as u64,
            alignment,
            data_start: 0,
            metadata,
            keys,
            tensors: Vec::new(),
            names: HashMap::new(),
        };
        let mut infos = Vec::with_capacity(tensor_count.min(RESERVE) as usize);
        for i in 0..tensor_count {
            infos.push(r.tensor_info(i)?);
        }
        gguf.data_start = (r.pos as u64).next_multiple_of(gguf.alignment);

        gguf.tensors.reserve(infos.len());
        gguf.names.reserve(infos.len());
        for raw in infos {
            let info = gguf.locate(raw)?;
            if gguf.names.contains_key(&info.name) {
                return Err(gguf.tensor_error(&info.name, "the name appears twice".into()));
            }
            gguf.names.insert(info.name.clone(), gguf.tensors.len());
            gguf.tensors.push(info);
        }
        Ok(gguf)
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Where the data section starts in the file; tensor offsets count from here.
    pub fn data_start(&self) -> u64 {
        self.data_start
    }

    /// Every key/value in the order of the file.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.keys.get(key).map(|&i| &self.metadata[i].1)
    }

    /// The value at `key`, converted by `convert`, or an error naming the key, what was
    /// expected and what was found.
    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        convert: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<T, GgufError> {
        let value = self.get(key).ok_or_else(|| GgufError::MissingKey {
            file: self.file.clone(),
            key: key.to_string(),
        })?;
        convert(value).ok_or_else(|| GgufError::KeyType {
            file: self.file.clone(),
            key: key.to_string(),
            expected,
            found: value.describe(),
        })
    }

    /// An integer of any width whose value fits in a u32.
    pub fn get_u32(&self, key: &str) -> Result<u32, GgufError> {
        self.typed(key, "a u32", |v| v.as_u64()?.try_into().ok())
    }

    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.typed(key, "a u64", Value::as_u64)
    }

    pub fn get_i32(&self, key: &str) -> Result<i32, GgufError> {
        self.typed(key, "an i32", |v| v.as_i64()?.try_into().ok())
    }

    pub fn get_i64(&self, key: &str) -> Result<i64, GgufError> {
        self.typed(key, "an i64", Value::as_i64)
    }

    /// An f32, or an f64 rounded to f32.
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        self.typed(key, "an f32", |v| v.as_f64().map(|f| f as f32))
    }

    pub fn get_f64(&self, key: &str) -> Result<f64, GgufError> {
        self.typed(key, "an f64", Value::as_f64)
    }

    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        self.typed(key, "a bool", Value::as_bool)
    }

    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        self.typed(key, "a string", Value::as_str)
    }

    pub fn get_array(&self, key: &str) -> Result<&Array, GgufError> {
        self.typed(key, "an array", Value::as_array)
    }

    pub fn get_str_array(&self, key: &str) -> Result<&[String], GgufError> {
        self.typed(key, "an array of strings", |v| v.as_array()?.as_strings())
    }

    /// `general.architecture`, which names the prefix of the model's own keys.
    pub fn architecture(&self) -> Result<&str, GgufError> {
        self.get_str("general.architecture")
    }

    /// In the order of the file's tensor infos.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.names
            .get(name)
            .map(|&i| &self.tensors[i])
            .ok_or_else(|| GgufError::MissingTensor {
                file: self.file.clone(),
                tensor: name.to_string(),
            })
    }

    /// The tensor's bytes in `bytes`, the file this header was parsed from.
    pub fn tensor_data<'a>(&self, bytes: &'a [u8], name: &str) -> Result<&'a [u8], GgufError> {
        let info = self.tensor(name)?;
        bytes
            .get(info.range())
            .ok_or_else(|| GgufError::OutsideFile {
                file: self.file.clone(),
                tensor: name.to_string(),
                start: info.range.start as u64,
                end: info.range.end as u64,
                len: bytes.len() as u64,
            })
    }

    /// Dequantizes the whole tensor into `out`, which holds exactly its elements.
    pub fn dequantize_tensor(
        &self,
        bytes: &[u8],
        name: &str,
        out: &mut [f32],
    ) -> Result<(), GgufError> {
        let info = self.tensor(name)?;
        let data = self.tensor_data(bytes, name)?;
        dequantize(info.ty, data, out).map_err(|cause| self.dequant_error(name, cause))
    }

    fn dequant_error(&self, tensor: &str, cause: DequantError) -> GgufError {
        GgufError::Dequant {
            file: self.file.clone(),
            tensor: tensor.to_string(),
            cause,
        }
    }

    fn tensor_error(&self, tensor: &str, message: String) -> GgufError {
        GgufError::Tensor {
            file: self.file.clone(),
            tensor: tensor.to_string(),
            message,
        }
    }

    /// Checks a tensor's type and shape and finds its bytes in the file.
    fn locate(&self, raw: RawTensor) -> Result<TensorInfo, GgufError> {
        let RawTensor {
            name,
            dims,
            type_id,
            offset,
        } = raw;
        let Some(ty) = GgmlType::from_id(type_id) else {
            return Err(match ggml_type_name(type_id) {
                Some(type_name) => GgufError::UnsupportedType {
                    file: self.file.clone(),
                    tensor: name,
                    id: type_id,
                    name: type_name,
                    supported: GgmlType::ALL.map(GgmlType::name).join(", "),
                },
                None => GgufError::UnknownType {
                    file: self.file.clone(),
                    tensor: name,
                    id: type_id,
                },
            });
        };
        let Some(elements) = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d)) else {
            return Err(self.tensor_error(&name, format!("dims {dims:?} overflow")));
        };
        let row_len = dims.first().copied().unwrap_or(1);
        if !row_len.is_multiple_of(ty.block_size() as u64) {
            return Err(self.tensor_error(
                &name,
                format!(
                    "row length {row_len} is not a multiple of {ty}'s block of {} values",
                    ty.block_size()
                ),
            ));
        }
        if !offset.is_multiple_of(self.alignment) {
            return Err(self.tensor_error(
                &name,
                format!(
                    "data offset {offset} is not a multiple of the alignment {}",
                    self.alignment
                ),
            ));
        }
        let nbytes = ty.bytes_for(elements);
        let start = self.data_start.checked_add(offset);
        let end = start.zip(nbytes).and_then(|(s, n)| s.checked_add(n));
        match (start, end) {
            (Some(start), Some(end)) if end <= self.len => Ok(TensorInfo {
                name,
                dims,
                ty,
                offset,
                // Within the slice, so both fit in usize.
                range: start as usize..end as usize,
            }),
            _ => Err(GgufError::OutsideFile {
                file: self.file.clone(),
                start: start.unwrap_or(u64::MAX),
                end: end.unwrap_or(u64::MAX),
                len: self.len,
                tensor: name,
            }),
        }
    }
}

/// Turns `Err(MissingKey)` into `Ok(None)`, for keys a model may leave out:
/// `optional(gguf.get_f32("llama.rope.freq_base"))?.unwrap_or(10000.0)`.
pub fn optional<T>(lookup: Result<T, GgufError>) -> Result<Option<T>, GgufError> {
    match lookup {
        Ok(v) => Ok(Some(v)),
        Err(GgufError::MissingKey { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn check_version(file: &str, version: u32) -> Result<(), GgufError> {
    let hint = match version {
        2 | 3 => return Ok(()),
        1 => "; version 1 (2023) used 32-bit counts: convert the model again with a current llama.cpp"
            .to_string(),
        v if matches!(v.swap_bytes(), 2 | 3) => format!(
            "; this looks like a big-endian file (version {}), and only little-endian files are read",
            v.swap_bytes()
        ),
        _ => String::new(),
    };
    Err(GgufError::Version {
        file: file.to_string(),
        version,
        hint,
    })
}

/// A tensor info as read, before its type and place are checked.
struct RawTensor {
    name: String,
    dims: Vec<u64>,
    type_id: u32,
    offset: u64,
}

/// A cursor over the file. `what` arguments describe the item being read, built only when
/// an error needs them.
struct Reader<'a> {
    file: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

type What<'w> = &'w dyn Fn() -> String;

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: u64, what: What) -> Result<&'a [u8], GgufError> {
        if n > self.remaining() as u64 {
            return Err(GgufError::Truncated {
                file: self.file.to_string(),
                what: what(),
                start: self.pos as u64,
                end: (self.pos as u64).saturating_add(n),
                len: self.bytes.len() as u64,
            });
        }
        let (start, end) = (self.pos, self.pos + n as usize);
        self.pos = end;
        Ok(&self.bytes[start..end])
    }

    fn array<const N: usize>(&mut self, what: What) -> Result<[u8; N], GgufError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: What) -> Result<u32, GgufError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: What) -> Result<u64, GgufError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn format_error(&self, at: usize, what: What, message: String) -> GgufError {
        GgufError::Format {
            file: self.file.to_string(),
            what: what(),
            at: at as u64,
            message,
        }
    }

    fn string(&mut self, what: What) -> Result<String, GgufError> {
        let len = self.u64(&|| format!("the length of {}", what()))?;
        let at = self.pos;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| self.format_error(at, what, format!("the string is not UTF-8 ({e})")))
    }

    fn value_type(&mut self, what: What) -> Result<ValueType, GgufError> {
        let at = self.pos;
        let id = self.u32(what)?;
        ValueType::from_id(id)
            .ok_or_else(|| self.format_error(at, what, format!("unknown value type {id}")))
    }

    fn value(&mut self, ty: ValueType, depth: usize, what: What) -> Result<Value, GgufError> {
        Ok(match ty {
            ValueType::U8 => Value::U8(u8::from_le_bytes(self.array(what)?)),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array(what)?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(what)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(what)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array(what)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(what)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(what)?)),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array(what)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(what)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(what)?)),
            ValueType::Bool => Value::Bool(self.bool(what)?),
            ValueType::String => Value::String(self.string(what)?),
            ValueType::Array => Value::Array(self.array_value(depth, what)?),
        })
    }

    fn bool(&mut self, what: What) -> Result<bool, GgufError> {
        let at = self.pos;
        match self.array::<1>(what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.format_error(at, what, format!("a bool is 0 or 1, not {b}"))),
        }
    }

    fn array_value(&mut self, depth: usize, what: What) -> Result<Array, GgufError> {
        let at = self.pos;
        let ty = self.value_type(&|| format!("the item type of {}", what()))?;
        let count = self.u64(&|| format!("the length of {}", what()))?;
        if ty == ValueType::Array && depth + 1 >= MAX_NESTING {
            return Err(self.format_error(
                at,
                what,
                format!("arrays nest more than {MAX_NESTING} deep"),
            ));
        }
        // Nothing is reserved from the count: fixed-size items are taken as one run of bytes
        // (which must be there), the others are read one by one until the file ends.
        let n = usize::try_from(count).unwrap_or(usize::MAX);
        let item = |i: usize| move || format!("item {i} of {}", what());
        Ok(match ty {
            ValueType::U8 => Array::U8(self.take(count, what)?.to_vec()),
            ValueType::I8 => Array::I8(self.numbers(count, what, i8::from_le_bytes)?),
            ValueType::U16 => Array::U16(self.numbers(count, what, u16::from_le_bytes)?),
            ValueType::I16 => Array::I16(self.numbers(count, what, i16::from_le_bytes)?),
            ValueType::U32 => Array::U32(self.numbers(count, what, u32::from_le_bytes)?),
            ValueType::I32 => Array::I32(self.numbers(count, what, i32::from_le_bytes)?),
            ValueType::F32 => Array::F32(self.numbers(count, what, f32::from_le_bytes)?),
            ValueType::U64 => Array::U64(self.numbers(count, what, u64::from_le_bytes)?),
            ValueType::I64 => Array::I64(self.numbers(count, what, i64::from_le_bytes)?),
            ValueType::F64 => Array::F64(self.numbers(count, what, f64::from_le_bytes)?),
            ValueType::Bool => Array::Bool(
                (0..n)
                    .map(|i| self.bool(&item(i)))
                    .collect::<Result<_, _>>()?,
            ),
            ValueType::String => Array::String(
                (0..n)
                    .map(|i| self.string(&item(i)))
                    .collect::<Result<_, _>>()?,
            ),
            ValueType::Array => Array::Array(
                (0..n)
                    .map(|i| self.array_value(depth + 1, &item(i)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// `count` fixed-size little-endian numbers, allocated once their bytes are known to
    /// be in the file.
    fn numbers<T, const N: usize>(
        &mut self,
        count: u64,
        what: What,
        from: fn([u8; N]) -> T,
    ) -> Result<Vec<T>, GgufError> {
        let bytes = self.take(count.saturating_mul(N as u64), what)?;
        Ok(bytes
            .as_chunks::<N>()
            .0
            .iter()
            .map(|c| {
                let mut b = [0; N];
                b.copy_from_slice(c);
                from(b)
            })
            .collect())
    }

    fn tensor_info(&mut self, i: u64) -> Result<RawTensor, GgufError> {
        let name = self.string(&|| format!("the name of tensor {i}"))?;
        let at = self.pos;
        let n_dims = self.u32(&|| format!("the dimension count of tensor {name}"))?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::Tensor {
                file: self.file.to_string(),
                tensor: name,
                message: format!("{n_dims} dimensions (at byte {at}), more than ggml's {MAX_DIMS}"),
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for d in 0..n_dims {
            dims.push(self.u64(&|| format!("dimension {d} of tensor {name}"))?);
        }
        let type_id = self.u32(&|| format!("the type of tensor {name}"))?;
        let offset = self.u64(&|| format!("the data offset of tensor {name}"))?;
        Ok(RawTensor {
            name,
            dims,
            type_id,
            offset,
        })
    }
}
