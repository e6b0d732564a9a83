//! No input makes the reader panic: random truncations and byte changes of the fixture.

use super::super::{Gguf, Value};
use super::{NAME, fixture};

/// The engine's seeded generator, with a bound.
struct Rng(crate::generate::rng::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Everything a caller might do with a parsed file; none of it may panic.
fn exercise(gguf: &Gguf, bytes: &[u8]) {
    for (key, value) in gguf.metadata() {
        let _ = (
            gguf.get_u32(key),
            gguf.get_i64(key),
            gguf.get_f32(key),
            gguf.get_bool(key),
        );
        let _ = (gguf.get_str(key), gguf.get_str_array(key), value.describe());
        if let Value::Array(a) = value {
            let _ = (a.to_i64s(), a.get(0), a.values().count());
        }
    }
    for t in gguf.tensors() {
        let _ = (t.shape(), t.rows(), t.row_bytes());
        let mut out = vec![0.0; t.elements() as usize];
        gguf.dequantize_tensor(bytes, &t.name, &mut out).unwrap();
    }
}

#[test]
fn truncations_and_flips_never_panic() {
    let good = fixture();
    let header_len = Gguf::parse(NAME, &good).unwrap().data_start() as usize;
    let mut rng = Rng(crate::generate::rng::Rng::new(0x9e37_79b9_7f4a_7c15));
    let (mut parsed, mut failed) = (0, 0);
    for round in 0..3000 {
        let mut bytes = good.clone();
        // Mostly the header, where changes matter; sometimes anywhere.
        let span = if round % 4 == 0 {
            bytes.len()
        } else {
            header_len
        };
        match round % 3 {
            0 => bytes.truncate(rng.below(bytes.len() + 1)),
            1 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(span);
                    bytes[at] = rng.next() as u8;
                }
            }
            _ => {
                // A changed length or count field: set 8 bytes at once to something large.
                let at = rng.below(span - 8);
                let v = rng.next() >> rng.below(64);
                bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
                bytes.truncate(bytes.len() - rng.below(64));
            }
        }
        match Gguf::parse(NAME, &bytes) {
            Ok(gguf) => {
                parsed += 1;
                exercise(&gguf, &bytes);
            }
            Err(e) => {
                failed += 1;
                assert!(e.to_string().starts_with(&format!("{NAME}: ")), "{e}");
            }
        }
    }
    // Both outcomes occur, so the test reaches deep into the header.
    assert!(
        parsed > 100 && failed > 1000,
        "parsed {parsed}, failed {failed}"
    );
}
