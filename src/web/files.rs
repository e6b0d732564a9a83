//! The page's checkpoint files as the loader reads them. Weight files stay in JavaScript
//! memory and are copied into the wasm heap one tensor at a time, so loading never holds a
//! second copy of the model; the small files (config, tokenizer, a GGUF's whole file, whose
//! header has no stated length) are copied in whole.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use js_sys::{Map, Uint8Array};
use wasm_bindgen::JsCast;

use crate::model::safetensors::{Blob, Contents};
use crate::model::{FileSource, LoadError};

pub struct PageFiles {
    /// Copied into wasm memory.
    pub resident: HashMap<String, Blob>,
    /// `.safetensors` files, left where the page fetched them.
    outside: HashMap<String, OutsideFile>,
}

impl PageFiles {
    /// `files`: file name -> Uint8Array, as `fetchCheckpoint` gives them.
    pub fn take(files: &Map) -> Result<Self, String> {
        let mut resident = HashMap::new();
        let mut outside = HashMap::new();
        let mut too_large = None;
        files.for_each(&mut |value, key| {
            let (Some(name), Ok(bytes)) = (key.as_string(), value.dyn_into::<Uint8Array>()) else {
                return;
            };
            // Offsets into a typed array cross the boundary as u32.
            let len = js_sys::Reflect::get(&bytes, &"length".into()).map_or(0.0, |l| l.as_f64().unwrap_or(0.0));
            if len > f64::from(u32::MAX) {
                too_large = Some(format!("{name}: {len} bytes; files of 4 GiB and more cannot be read in the browser (split the checkpoint into smaller shards)"));
            } else if name.ends_with(".safetensors") {
                outside.insert(name, OutsideFile(bytes));
            } else {
                resident.insert(name, Arc::new(bytes.to_vec()) as Blob);
            }
        });
        match too_large {
            Some(message) => Err(message),
            None => Ok(Self { resident, outside }),
        }
    }
}

impl FileSource for PageFiles {
    fn location(&self) -> String {
        "the fetched files".into()
    }

    fn read(&self, file: &str) -> Result<Option<Blob>, LoadError> {
        Ok(match self.outside.get(file) {
            Some(outside) => Some(Arc::new(outside.0.to_vec())),
            None => self.resident.get(file).cloned(),
        })
    }

    fn contents(&self, file: &str) -> Result<Box<dyn Contents>, LoadError> {
        match self.outside.get(file) {
            Some(outside) => Ok(Box::new(outside.clone())),
            None => Ok(Box::new(self.require(file)?)),
        }
    }
}

/// A file in JavaScript memory.
#[derive(Clone)]
struct OutsideFile(Uint8Array);

// Safety: wasm32-unknown-unknown without atomics runs on one thread, so the JavaScript value
// is never touched from another; `Contents` asks for Send + Sync because native file bytes
// are shared across the server's threads.
unsafe impl Send for OutsideFile {}
unsafe impl Sync for OutsideFile {}

impl Contents for OutsideFile {
    fn len(&self) -> usize {
        self.0.length() as usize
    }

    fn read(&self, range: Range<usize>) -> (Blob, Range<usize>) {
        let bytes = self
            .0
            .subarray(range.start as u32, range.end as u32)
            .to_vec();
        let len = bytes.len();
        (Arc::new(bytes), 0..len)
    }
}
