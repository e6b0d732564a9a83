//! Weight matrices on the GPU in the CPU kernels' formats (the same conversion from the
//! checkpoint, then uploaded as they are): f32, f16, bf16, or int8/int4 levels with an f16
//! scale per block of 32. A matrix over the device's binding limit is split into row parts.

use super::context::Gpu;
use crate::model::TensorError;
use crate::model::cpu::{Data, Matrix};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    F32,
    F16,
    BF16,
    Q8,
    Q4,
}

impl Format {
    fn of(data: &Data) -> Self {
        match data {
            Data::F32(_) => Self::F32,
            Data::F16(_) => Self::F16,
            Data::BF16(_) => Self::BF16,
            Data::Q8 { .. } => Self::Q8,
            Data::Q4 { .. } => Self::Q4,
            Data::Q8Groups { .. } | Data::Q4Groups { .. } => {
                unreachable!("the GPU is given the plain blocks, not the CPU's groups")
            }
        }
    }

    pub fn has_scales(self) -> bool {
        matches!(self, Self::Q8 | Self::Q4)
    }

    /// Scales stored per row: one per block, padded to whole u32s so rows stay aligned.
    pub fn scales_per_row(self, cols: usize) -> usize {
        match self.has_scales() {
            true => (cols / 32).next_multiple_of(2),
            false => 0,
        }
    }

    fn row_bytes(self, cols: usize) -> usize {
        match self {
            Self::F32 => cols * 4,
            Self::F16 | Self::BF16 => cols * 2,
            Self::Q8 => cols,
            Self::Q4 => cols / 2,
        }
    }

    /// The columns a row must be a whole number of: four per vector load, 32 per block.
    fn granule(self) -> usize {
        match self.has_scales() {
            true => 32,
            false => 4,
        }
    }
}

/// Rows `row0..row0 + rows` of a matrix, in buffers of their own.
#[derive(Clone)]
pub struct Part {
    pub row0: usize,
    pub rows: usize,
    pub weights: wgpu::Buffer,
    pub scales: Option<wgpu::Buffer>,
}

#[derive(Clone)]
pub struct GpuMatrix {
    pub format: Format,
    pub cols: usize,
    pub parts: Vec<Part>,
}

/// A host matrix's rows as the GPU stores them: weight bytes, and per-row-padded scales.
struct HostRows<'a> {
    weights: &'a [u8],
    scales: Vec<u8>,
}

fn host_rows(m: &Matrix, rows: std::ops::Range<usize>) -> HostRows<'_> {
    let format = Format::of(&m.data);
    let row_bytes = format.row_bytes(m.cols);
    let bytes: &[u8] = match &m.data {
        Data::F32(e) => bytemuck::cast_slice(e.as_slice()),
        Data::F16(e) | Data::BF16(e) => bytemuck::cast_slice(e.as_slice()),
        Data::Q8 { quants, .. } => bytemuck::cast_slice(quants),
        Data::Q4 { nibbles, .. } => nibbles,
        _ => unreachable!("Format::of refused the CPU's groups"),
    };
    let scales = match &m.data {
        Data::Q8 { scales, .. } | Data::Q4 { scales, .. } => {
            let (blocks, padded) = (m.cols / 32, format.scales_per_row(m.cols));
            let mut out = Vec::with_capacity(rows.len() * padded * 2);
            for row in scales[rows.start * blocks..rows.end * blocks].chunks_exact(blocks) {
                out.extend(row.iter().flat_map(|s| s.to_le_bytes()));
                out.resize(out.len() + (padded - blocks) * 2, 0);
            }
            out
        }
        _ => Vec::new(),
    };
    HostRows {
        weights: &bytes[rows.start * row_bytes..rows.end * row_bytes],
        scales,
    }
}

pub fn format_of(m: &Matrix) -> Format {
    Format::of(&m.data)
}

/// Why a matrix cannot go to the GPU as it is.
pub fn check_shape(m: &Matrix) -> Result<(), TensorError> {
    let granule = Format::of(&m.data).granule();
    match m.cols.is_multiple_of(granule) {
        true => Ok(()),
        false => Err(TensorError::Blocks {
            cols: m.cols,
            block: granule,
            reader: "the GPU kernels".into(),
        }),
    }
}

impl GpuMatrix {
    /// Uploads `m`, in as many row parts as `max_binding` bytes per buffer need.
    pub fn upload(gpu: &Gpu, label: &str, m: &Matrix) -> Self {
        let format = Format::of(&m.data);
        let row_bytes = format.row_bytes(m.cols) + format.scales_per_row(m.cols) * 2;
        let per_part = (gpu.max_binding as usize / row_bytes).clamp(1, m.rows.max(1));
        let parts = (0..m.rows)
            .step_by(per_part)
            .map(|row0| {
                let rows = per_part.min(m.rows - row0);
                let host = host_rows(m, row0..row0 + rows);
                Part {
                    row0,
                    rows,
                    weights: gpu.upload(label, host.weights),
                    scales: format.has_scales().then(|| gpu.upload(label, &host.scales)),
                }
            })
            .collect();
        Self {
            format,
            cols: m.cols,
            parts,
        }
    }

    /// An empty matrix of `rows` rows in one part, to be filled by [`Self::write_rows`].
    pub fn stacked(gpu: &Gpu, label: &str, format: Format, [rows, cols]: [usize; 2]) -> Self {
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let weights = gpu.buffer(label, (rows * format.row_bytes(cols)) as u64, usage);
        let scales = format.has_scales().then(|| {
            let bytes = rows * format.scales_per_row(cols) * 2;
            gpu.buffer(label, bytes as u64, usage)
        });
        Self {
            format,
            cols,
            parts: vec![Part {
                row0: 0,
                rows,
                weights,
                scales,
            }],
        }
    }

    /// Writes `m` as rows `row0..` of this (stacked) matrix.
    pub fn write_rows(&self, gpu: &Gpu, row0: usize, m: &Matrix) -> Result<(), TensorError> {
        if Format::of(&m.data) != self.format || m.cols != self.cols {
            return Err(TensorError::Stack);
        }
        let part = &self.parts[0];
        let host = host_rows(m, 0..m.rows);
        gpu.write(
            &part.weights,
            (row0 * self.format.row_bytes(self.cols)) as u64,
            host.weights,
        );
        if let Some(scales) = &part.scales {
            let offset = row0 * self.format.scales_per_row(self.cols) * 2;
            gpu.write(scales, offset as u64, &host.scales);
        }
        Ok(())
    }

    /// The bytes one buffer of this matrix holds at most.
    pub fn largest_part_bytes(&self) -> u64 {
        let row = self.format.row_bytes(self.cols) + self.format.scales_per_row(self.cols) * 2;
        self.parts
            .iter()
            .map(|p| (p.rows * row) as u64)
            .max()
            .unwrap_or(0)
    }
}
