//! Tests against the fixture gguf-py wrote (`make_gguf_blocks.py`), files derived from it,
//! and small files built here byte by byte.

mod errors;
mod fixture;
mod robust;

use std::path::PathBuf;

/// Where the fixture lies, from the crate root.
const FIXTURE: &str = "tests/golden/gguf_blocks.gguf";
/// The name errors should carry.
const NAME: &str = "gguf_blocks.gguf";

fn fixture() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A little-endian byte writer for hand-made headers.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn u32(mut self, v: u32) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }

    fn u64(mut self, v: u64) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }

    fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend(v);
        self
    }

    fn str(self, s: &str) -> Self {
        self.u64(s.len() as u64).raw(s.as_bytes())
    }

    /// The magic, version 3 and the two counts.
    fn header(tensors: u64, kvs: u64) -> Self {
        Self::default().raw(b"GGUF").u32(3).u64(tensors).u64(kvs)
    }
}
