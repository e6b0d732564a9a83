//! A weight matrix `[rows, cols]` in the format the CPU kernels read: the checkpoint's own
//! float bytes (borrowed from the file's bytes when they are already in the run format), or
//! int8/int4 blocks of 32 with an f16 scale each.

use super::convert::{BLOCK, bf16_to_f32, f16_to_f32, f32_to_f16, quantize_q4, quantize_q8};
use super::dispatch::{for_each_chunk, for_each_chunk_pair};
use super::groups;
use crate::model::gguf::GgmlType;
use crate::model::safetensors::{Blob, FileDType, RawTensor};
use crate::model::{Precision, TensorError};

/// Elements borrowed from a checkpoint file, or converted into a vector of our own.
pub enum Elements<T> {
    Owned(Vec<T>),
    Mapped {
        blob: Blob,
        start: usize,
        len: usize,
    },
}

impl<T: bytemuck::Pod> Elements<T> {
    /// Borrows `bytes` (which lie inside `blob`) when they are aligned for `T`, else copies.
    fn borrow(blob: &Blob, bytes: &[u8]) -> Self {
        match bytemuck::try_cast_slice::<u8, T>(bytes) {
            Ok(elements) => {
                let base = (**blob).as_ref().as_ptr() as usize;
                Self::Mapped {
                    blob: blob.clone(),
                    start: bytes.as_ptr() as usize - base,
                    len: elements.len(),
                }
            }
            Err(_) => Self::Owned(bytemuck::pod_collect_to_vec(bytes)),
        }
    }

    pub fn as_slice(&self) -> &[T] {
        match self {
            Self::Owned(v) => v,
            Self::Mapped { blob, start, len } => {
                let bytes = &(**blob).as_ref()[*start..*start + len * size_of::<T>()];
                bytemuck::cast_slice(bytes)
            }
        }
    }
}

pub enum Data {
    F32(Elements<f32>),
    /// IEEE half bits.
    F16(Elements<u16>),
    BF16(Elements<u16>),
    /// Per row: `cols` int8 levels; per block of 32 an f16 scale.
    Q8 {
        quants: Vec<i8>,
        scales: Vec<u16>,
    },
    /// Per row: `cols / 2` bytes of two int4 levels (see `convert::quantize_q4`).
    Q4 {
        nibbles: Vec<u8>,
        scales: Vec<u16>,
    },
    /// Q8 and Q4 as the CPU's integer kernels read them: each row's blocks in groups (see
    /// `groups`); the scales as Q8's and Q4's.
    Q8Groups {
        quants: Vec<i8>,
        scales: Vec<u16>,
    },
    Q4Groups {
        nibbles: Vec<u8>,
        scales: Vec<u16>,
    },
}

pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Data,
}

impl Matrix {
    /// `raw` (already checked to be `[rows, cols]`) in `precision`, borrowing the file's bytes
    /// when they are stored in that format.
    pub fn from_raw(
        raw: &RawTensor<'_>,
        blob: &Blob,
        [rows, cols]: [usize; 2],
        precision: Precision,
    ) -> Result<Self, TensorError> {
        let data = match (precision, raw.dtype) {
            // GGUF's q8_0/q4_0 blocks are ours with the scale beside the levels: split, exact.
            (Precision::Q8, FileDType::Block(GgmlType::Q8_0)) => {
                let (quants, scales) = split_blocks(raw.bytes, BLOCK);
                let quants = bytemuck::allocation::cast_vec(quants);
                Data::Q8 { quants, scales }
            }
            (Precision::Q4, FileDType::Block(GgmlType::Q4_0)) => {
                let (nibbles, scales) = split_blocks(raw.bytes, BLOCK / 2);
                Data::Q4 { nibbles, scales }
            }
            (Precision::F32, FileDType::F32) => Data::F32(Elements::borrow(blob, raw.bytes)),
            (Precision::F16, FileDType::F16) => Data::F16(Elements::borrow(blob, raw.bytes)),
            (Precision::BF16, FileDType::BF16) => Data::BF16(Elements::borrow(blob, raw.bytes)),
            (Precision::F32, _) => Data::F32(Elements::Owned(convert(raw, |x| x))),
            (Precision::F16, _) => Data::F16(Elements::Owned(convert(raw, f32_to_f16))),
            (Precision::BF16, _) => Data::BF16(Elements::Owned(convert(raw, |x| {
                burn::tensor::bf16::from_f32(x).to_bits()
            }))),
            (Precision::Q8 | Precision::Q4, _) if !cols.is_multiple_of(BLOCK) => {
                return Err(TensorError::Blocks {
                    cols,
                    block: BLOCK,
                    reader: precision.name().into(),
                });
            }
            (Precision::Q8, _) => {
                let (quants, scales) = quantize(raw, 1, quantize_q8);
                Data::Q8 { quants, scales }
            }
            (Precision::Q4, _) => {
                let (nibbles, scales) = quantize(raw, 2, quantize_q4);
                Data::Q4 { nibbles, scales }
            }
        };
        Ok(Self { rows, cols, data })
    }

    /// The bytes the kernels stream through per use of the whole matrix.
    pub fn bytes(&self) -> usize {
        let n = self.rows * self.cols;
        match &self.data {
            Data::F32(_) => n * 4,
            Data::F16(_) | Data::BF16(_) => n * 2,
            Data::Q8 { .. } | Data::Q8Groups { .. } => n + n / BLOCK * 2,
            Data::Q4 { .. } | Data::Q4Groups { .. } => n / 2 + n / BLOCK * 2,
        }
    }

    /// The matrix in the layout the CPU kernels read: q8/q4 rows regrouped (the GPU takes
    /// the plain blocks), the rest as they are.
    pub fn for_cpu(self) -> Self {
        let cols = self.cols;
        let g = groups::group_blocks(cols);
        let data = match self.data {
            Data::Q8 { quants, scales } => {
                let mut grouped = vec![0i8; quants.len()];
                for_each_chunk(&mut grouped, cols, |r, out| {
                    groups::interleave_i8(&quants[r * cols..(r + 1) * cols], g, out)
                });
                Data::Q8Groups {
                    quants: grouped,
                    scales,
                }
            }
            Data::Q4 { nibbles, scales } => {
                let mut grouped = vec![0u8; nibbles.len()];
                for_each_chunk(&mut grouped, cols / 2, |r, out| {
                    groups::interleave_q4(&nibbles[r * cols / 2..(r + 1) * cols / 2], g, out)
                });
                Data::Q4Groups {
                    nibbles: grouped,
                    scales,
                }
            }
            data => data,
        };
        Self { data, ..self }
    }

    /// Whether its rows are int8/int4 blocks.
    pub fn is_quantized(&self) -> bool {
        matches!(
            self.data,
            Data::Q8 { .. } | Data::Q4 { .. } | Data::Q8Groups { .. } | Data::Q4Groups { .. }
        )
    }

    /// Row `r` in f32 into `out` (`cols` long): the embedding lookup, and the kernels'
    /// preparation of a row for the float path.
    #[inline(always)]
    pub fn row_into(&self, r: usize, out: &mut [f32]) {
        let c = self.cols;
        let span = r * c..(r + 1) * c;
        match &self.data {
            Data::F32(e) => out.copy_from_slice(&e.as_slice()[span]),
            Data::F16(e) => {
                for (o, &b) in out.iter_mut().zip(&e.as_slice()[span]) {
                    *o = f16_to_f32(b);
                }
            }
            Data::BF16(e) => {
                for (o, &b) in out.iter_mut().zip(&e.as_slice()[span]) {
                    *o = bf16_to_f32(b);
                }
            }
            Data::Q8 { quants, scales } => {
                let blocks = r * c / BLOCK..(r + 1) * c / BLOCK;
                for ((o, q), &d) in out
                    .as_chunks_mut::<BLOCK>()
                    .0
                    .iter_mut()
                    .zip(quants[span].as_chunks::<BLOCK>().0)
                    .zip(&scales[blocks])
                {
                    let d = f16_to_f32(d);
                    for (o, &q) in o.iter_mut().zip(q) {
                        *o = q as f32 * d;
                    }
                }
            }
            Data::Q4 { nibbles, scales } => {
                let blocks = r * c / BLOCK..(r + 1) * c / BLOCK;
                let mut levels = [0i8; BLOCK];
                for ((o, packed), &d) in out
                    .as_chunks_mut::<BLOCK>()
                    .0
                    .iter_mut()
                    .zip(
                        nibbles[r * c / 2..(r + 1) * c / 2]
                            .as_chunks::<{ BLOCK / 2 }>()
                            .0,
                    )
                    .zip(&scales[blocks])
                {
                    super::convert::unpack_q4(packed, &mut levels);
                    let d = f16_to_f32(d);
                    for (o, &q) in o.iter_mut().zip(&levels) {
                        *o = q as f32 * d;
                    }
                }
            }
            Data::Q8Groups { quants, scales } => {
                grouped_row(&quants[span], scales, r, out, groups::level_i8)
            }
            Data::Q4Groups { nibbles, scales } => grouped_row(
                &nibbles[r * c / 2..(r + 1) * c / 2],
                scales,
                r,
                out,
                groups::level_q4,
            ),
        }
    }
}

/// Row `r` of a grouped matrix (`row` its levels, `scales` every row's) dequantized into `out`.
fn grouped_row<T>(
    row: &[T],
    scales: &[u16],
    r: usize,
    out: &mut [f32],
    level: fn(&[T], usize, usize, usize) -> i8,
) {
    let (blocks, g) = (out.len() / BLOCK, groups::group_blocks(out.len()));
    for (b, block) in out.as_chunks_mut::<BLOCK>().0.iter_mut().enumerate() {
        let d = f16_to_f32(scales[r * blocks + b]);
        for (e, o) in block.iter_mut().enumerate() {
            *o = level(row, g, b, e) as f32 * d;
        }
    }
}

/// Values per task of a conversion or quantization, shared among the cores.
const CHUNK: usize = 4096;

/// ggml blocks of an f16 scale then `level_bytes` of levels, as (levels, scales) apart.
fn split_blocks(bytes: &[u8], level_bytes: usize) -> (Vec<u8>, Vec<u16>) {
    let blocks = bytes.chunks_exact(2 + level_bytes);
    let mut scales = Vec::with_capacity(blocks.len());
    let mut levels = Vec::with_capacity(blocks.len() * level_bytes);
    for b in blocks {
        scales.push(u16::from_le_bytes([b[0], b[1]]));
        levels.extend_from_slice(&b[2..]);
    }
    (levels, scales)
}

/// A tensor in f32, whatever its stored dtype.
pub fn to_f32(raw: &RawTensor<'_>) -> Vec<f32> {
    convert(raw, |x| x)
}

/// Each stored value widened to f32 and passed through `f`, written by every core (so that the
/// new pages are also faulted in on every core).
fn convert<T: Send>(raw: &RawTensor<'_>, f: impl Fn(f32) -> T + Sync) -> Vec<T> {
    let n = raw.dtype.values(raw.bytes.len());
    let mut out = Vec::with_capacity(n);
    for_each_chunk(&mut out.spare_capacity_mut()[..n], CHUNK, |i, out| {
        widen(raw, i * CHUNK, out.len(), |j, v| {
            out[j].write(f(v));
        })
    });
    // SAFETY: every one of the `n` values was written above.
    unsafe { out.set_len(n) };
    out
}

/// Stored values `start..start + len`, widened, each passed to `put(index, value)`.
#[inline(always)]
fn widen(raw: &RawTensor<'_>, start: usize, len: usize, mut put: impl FnMut(usize, f32)) {
    let bytes = &raw.bytes[raw.dtype.bytes(start)..raw.dtype.bytes(start + len)];
    match raw.dtype {
        FileDType::Block(ty) => {
            // `start` and `len` are whole blocks: CHUNK is a multiple of every block size.
            let mut values = [0f32; CHUNK];
            super::super::gguf::dequantize(ty, bytes, &mut values[..len])
                .expect("block bytes checked when the file was parsed");
            for (j, &v) in values[..len].iter().enumerate() {
                put(j, v);
            }
        }
        FileDType::F32 => {
            for (j, b) in bytes.as_chunks::<4>().0.iter().enumerate() {
                put(j, f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
        }
        FileDType::F16 => {
            for (j, b) in u16s(bytes).enumerate() {
                put(j, f16_to_f32(b));
            }
        }
        FileDType::BF16 => {
            for (j, b) in u16s(bytes).enumerate() {
                put(j, bf16_to_f32(b));
            }
        }
    }
}

/// Quantizes `raw` by blocks with `quantize`, which packs `per_byte` levels a byte; the
/// levels and the blocks' f16 scales.
fn quantize<T: Default + Clone + Send>(
    raw: &RawTensor<'_>,
    per_byte: usize,
    quantize: impl Fn(&[f32], &mut [T], &mut [f32]) + Sync,
) -> (Vec<T>, Vec<u16>) {
    let n = raw.dtype.values(raw.bytes.len());
    let (mut levels, mut scales) = (zeroed(n / per_byte), zeroed(n / BLOCK));
    let chunks = (&mut levels[..], CHUNK / per_byte);
    for_each_chunk_pair(chunks, (&mut scales, CHUNK / BLOCK), |i, levels, scales| {
        let (mut wide, mut d) = ([0f32; CHUNK], [0f32; CHUNK / BLOCK]);
        let len = levels.len() * per_byte;
        widen(raw, i * CHUNK, len, |j, v| wide[j] = v);
        quantize(&wide[..len], levels, &mut d[..scales.len()]);
        for (s, d) in scales.iter_mut().zip(d) {
            *s = f32_to_f16(d);
        }
    });
    (levels, scales)
}

fn zeroed<T: Default + Clone>(n: usize) -> Vec<T> {
    vec![T::default(); n]
}

fn u16s(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .as_chunks::<2>()
        .0
        .iter()
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}
