//! A checkpoint directory on disk, each file read into memory once.
//!
//! Not memory-mapped: a mapped file that is truncated or rewritten while being served (a
//! `cp` over it, a re-download) faults the process with SIGBUS at the next read of a weight,
//! and weights in the run dtype are served from the file's own bytes. Read into memory, the
//! checkpoint on disk can change under a running server; the change is seen at the next
//! start. A file cut short during the read is an error naming it.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::safetensors::Blob;
use crate::model::{FileSource, LoadError};
use crate::native::progress;

/// Files at least this large show a progress bar while they are read.
const SHOW_PROGRESS: u64 = 64 << 20;

pub struct DirSource {
    dir: PathBuf,
}

impl DirSource {
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
        }
    }
}

impl FileSource for DirSource {
    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn read(&self, file: &str) -> Result<Option<Blob>, LoadError> {
        let path = self.dir.join(file);
        let io = |e: io::Error| LoadError::Io {
            file: path.display().to_string(),
            source: Arc::new(e),
        };
        let mut handle = match File::open(&path) {
            Ok(handle) => handle,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let len = handle.metadata().map_err(io)?.len();
        let len = usize::try_from(len).map_err(|_| io(io::Error::other("too large to read")))?;
        let mut bytes = Aligned::zeroed(len);
        let bar = (len as u64 >= SHOW_PROGRESS).then(|| progress::bytes(file, Some(len as u64)));
        let mut done = 0;
        for chunk in bytes.as_mut().chunks_mut(16 << 20) {
            handle.read_exact(chunk).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => io(io::Error::new(
                    e.kind(),
                    format!(
                        "the file ended after {done} of its {len} bytes (changed while being read?)"
                    ),
                )),
                _ => io(e),
            })?;
            done += chunk.len();
            if let Some(bar) = &bar {
                bar.set_position(done as u64);
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        Ok(Some(Arc::new(bytes)))
    }
}

/// Bytes on an 8-byte boundary, as a map's page-aligned bytes are: the weights, at their
/// aligned offsets in the file, are then read in place as f32 or u16 slices.
struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    fn zeroed(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }
}

impl AsRef<[u8]> for Aligned {
    fn as_ref(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
}

impl AsMut<[u8]> for Aligned {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }
}
