//! A weight matrix `[rows, cols]` in the format the CPU kernels read: the checkpoint's own
//! float bytes (borrowed from its memory map when they are already in the run format), or
//! int8/int4 blocks of 32 with an f16 scale each.

use super::convert::{BLOCK, bf16_to_f32, f16_to_f32, f32_to_f16, quantize_q4, quantize_q8};
use crate::model::Precision;
use crate::model::safetensors::{Blob, FileDType, RawTensor};

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
    ) -> Result<Self, String> {
        let data = match (precision, raw.dtype) {
            (Precision::F32, FileDType::F32) => Data::F32(Elements::borrow(blob, raw.bytes)),
            (Precision::F16, FileDType::F16) => Data::F16(Elements::borrow(blob, raw.bytes)),
            (Precision::BF16, FileDType::BF16) => Data::BF16(Elements::borrow(blob, raw.bytes)),
            (Precision::F32, _) => Data::F32(Elements::Owned(convert(raw, |x| x))),
            (Precision::F16, _) => Data::F16(Elements::Owned(convert(raw, f32_to_f16))),
            (Precision::BF16, _) => Data::BF16(Elements::Owned(convert(raw, |x| {
                burn::tensor::bf16::from_f32(x).to_bits()
            }))),
            (Precision::Q8 | Precision::Q4, _) if !cols.is_multiple_of(BLOCK) => {
                return Err(format!(
                    "{cols} columns are not a whole number of {BLOCK}-value blocks, which {} needs",
                    precision.name()
                ));
            }
            (Precision::Q8, _) => {
                let values = to_f32(raw);
                let mut quants = zeroed(values.len());
                let mut scales = vec![0f32; values.len() / BLOCK];
                quantize_q8(&values, &mut quants, &mut scales);
                Data::Q8 {
                    quants,
                    scales: scales.into_iter().map(f32_to_f16).collect(),
                }
            }
            (Precision::Q4, _) => {
                let values = to_f32(raw);
                let mut nibbles = zeroed(values.len() / 2);
                let mut scales = vec![0f32; values.len() / BLOCK];
                quantize_q4(&values, &mut nibbles, &mut scales);
                Data::Q4 {
                    nibbles,
                    scales: scales.into_iter().map(f32_to_f16).collect(),
                }
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
            Data::Q8 { .. } => n + n / BLOCK * 2,
            Data::Q4 { .. } => n / 2 + n / BLOCK * 2,
        }
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
                    .chunks_exact_mut(BLOCK)
                    .zip(quants[span].chunks_exact(BLOCK))
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
                    .chunks_exact_mut(BLOCK)
                    .zip(nibbles[r * c / 2..(r + 1) * c / 2].chunks_exact(BLOCK / 2))
                    .zip(&scales[blocks])
                {
                    super::convert::unpack_q4(packed, &mut levels);
                    let d = f16_to_f32(d);
                    for (o, &q) in o.iter_mut().zip(&levels) {
                        *o = q as f32 * d;
                    }
                }
            }
        }
    }
}

/// A tensor in f32, whatever its stored dtype.
pub fn to_f32(raw: &RawTensor<'_>) -> Vec<f32> {
    convert(raw, |x| x)
}

/// Each stored value widened to f32 and passed through `f`, into a [`streamed`] vector.
fn convert<T>(raw: &RawTensor<'_>, f: impl Fn(f32) -> T) -> Vec<T> {
    let n = raw.bytes.len() / raw.dtype.size();
    let mut out = streamed(n);
    match raw.dtype {
        FileDType::F32 => {
            let values = raw.bytes.chunks_exact(4);
            out.extend(values.map(|b| f(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))))
        }
        FileDType::F16 => out.extend(u16s(raw.bytes).map(|b| f(f16_to_f32(b)))),
        FileDType::BF16 => out.extend(u16s(raw.bytes).map(|b| f(bf16_to_f32(b)))),
    }
    out
}

/// An empty vector with room for `n` values, whose memory is backed by 2 MiB pages where the
/// OS offers them: the kernels stream every weight once per token, and with 4 KiB pages the address
/// translations and the prefetchers' stops at page boundaries cost a fifth of that pace.
fn streamed<T>(n: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(n);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let (start, bytes) = (v.as_ptr() as usize, n * size_of::<T>());
        let aligned = start.next_multiple_of(HUGE);
        if start + bytes > aligned + HUGE {
            let len = (start + bytes - aligned) / HUGE * HUGE;
            // SAFETY: advice on pages inside the vector's own allocation, before any is
            // touched; it changes how they are backed, never their contents.
            unsafe { libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
        }
    }
    v
}

fn zeroed<T: Default + Clone>(n: usize) -> Vec<T> {
    let mut v = streamed(n);
    v.resize(n, T::default());
    v
}

fn u16s(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}
