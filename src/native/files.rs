//! A checkpoint directory on disk, read through memory maps so weights are not copied twice.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::safetensors::Blob;
use crate::model::{FileSource, LoadError};

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
        let io = |e: std::io::Error| LoadError::Io {
            file: path.display().to_string(),
            source: Arc::new(e),
        };
        let handle = match File::open(&path) {
            Ok(handle) => handle,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        if handle.metadata().map_err(io)?.len() == 0 {
            // An empty file cannot be mapped; it reads as zero bytes.
            return Ok(Some(Arc::new(Vec::<u8>::new())));
        }
        // Safety: the map is read-only; a checkpoint changed on disk while serving is
        // outside what we support (as with every mmap-based loader).
        let map = unsafe { memmap2::Mmap::map(&handle) }.map_err(io)?;
        Ok(Some(Arc::new(map)))
    }
}
