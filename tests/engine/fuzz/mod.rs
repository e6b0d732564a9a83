//! Fuzzing on the stable toolchain: a mutator over committed seeds, one test per target.
//!
//! Why not cargo-fuzz: it needs a nightly toolchain and a second, instrumented build of the
//! whole crate graph (burn, wgpu, tokenizers), some 15 more minutes on a cold CI run that is
//! already near its hour. Here the targets run inside the test binary CI builds anyway.
//! What stands in for coverage feedback: an input whose outcome (the kind of error, or
//! success) has not been seen yet joins the pool, so mutation goes on from inputs that
//! reached new places.
//!
//! Each target takes bytes and returns the outcome's signature, or `Err` when the program
//! broke its contract on that input (an error outside the contract's table, a message
//! that names no file). A panic anywhere counts as a failure; failing inputs are written
//! under the target's temp dir, to add to `tests/fuzz/corpus/TARGET/` once fixed.
//!
//! CI runs a short pass (`HEARTH_FUZZ_ITERS`, default 2,000 inputs a target); the long pass
//! is in the README.

mod targets;

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What a target says of one input: its outcome's signature, or how it broke the contract.
pub type Verdict = Result<String, String>;

/// Inputs in the pool at most; beyond it new finds replace random old ones.
const POOL: usize = 512;
/// The longest input a mutation makes.
const MAX_LEN: usize = 1 << 16;

/// The engine's seeded generator (so a pass is repeatable: `HEARTH_FUZZ_SEED`), with a bound.
struct Rng(hearth::generate::rng::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to parsers: boundaries of integer widths, quotes, brackets.
const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'\n', b'\r', b'-',
    b'9', b'e',
];
const INTERESTING_U64: &[u64] = &[
    0,
    1,
    7,
    8,
    255,
    256,
    65535,
    1 << 31,
    u32::MAX as u64,
    1 << 40,
    u64::MAX / 2,
    u64::MAX,
];

fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>], dictionary: &[&[u8]]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let (a, n) = (rng.below(len), 1 + rng.below(16));
                out.drain(a..(a + n).min(len));
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(at..at, bytes);
            }
            4 if !dictionary.is_empty() => {
                let at = rng.below(len + 1);
                let word = dictionary[rng.below(dictionary.len())];
                out.splice(at..at, word.iter().copied());
            }
            5 if len > 0 => {
                // Duplicate a span: nesting, repeated keys, long strings.
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let span = out[a..b].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, span);
            }
            6 if len >= 8 => {
                // A little-endian integer boundary over 2, 4 or 8 bytes (lengths, counts).
                let width = [2, 4, 8][rng.below(3)];
                let at = rng.below(len - width + 1);
                let value = INTERESTING_U64[rng.below(INTERESTING_U64.len())];
                out[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            }
            7 if !pool.is_empty() => {
                // Splice the tail of another input in.
                let other = &pool[rng.below(pool.len())];
                let at = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            _ if len > 1 => out.truncate(rng.below(len)),
            _ => out.push(rng.next() as u8),
        }
    }
    out.truncate(MAX_LEN);
    out
}

/// The seed files committed for `target`.
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// Runs `target` over `seeds` and their mutations; fails listing what broke.
pub fn fuzz(
    name: &str,
    seeds: Vec<Vec<u8>>,
    dictionary: &[&[u8]],
    target: impl Fn(&[u8]) -> Verdict,
) {
    fuzz_with(name, seeds, dictionary, 1, target)
}

/// [`fuzz`] with `cost`: how many ordinary inputs one of this target's is worth (a target
/// that talks to a server runs `ITERS / cost` inputs).
pub fn fuzz_with(
    name: &str,
    seeds: Vec<Vec<u8>>,
    dictionary: &[&[u8]],
    cost: usize,
    target: impl Fn(&[u8]) -> Verdict,
) {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let var = |v: &str, default: u64| {
        std::env::var(v)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let inputs = (var("HEARTH_FUZZ_ITERS", 2000) as usize / cost).max(seeds.len());
    let mut rng = Rng(hearth::generate::rng::Rng::new(var(
        "HEARTH_FUZZ_SEED",
        0x5eed_f022,
    )));
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut outcomes = HashSet::new();
    let mut failures: Vec<(Vec<u8>, String)> = Vec::new();
    let started = Instant::now();
    for i in 0..inputs {
        let input = if i < seeds.len() {
            seeds[i].clone()
        } else {
            let base = if pool.is_empty() {
                &seeds[rng.below(seeds.len())]
            } else {
                &pool[rng.below(pool.len())]
            };
            mutate(&mut rng, base, &pool, dictionary)
        };
        let verdict =
            std::panic::catch_unwind(AssertUnwindSafe(|| target(&input))).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("panic: {message}"))
            });
        match verdict {
            Ok(outcome) => {
                if outcomes.insert(outcome) {
                    if pool.len() < POOL {
                        pool.push(input);
                    } else {
                        let at = rng.below(POOL);
                        pool[at] = input;
                    }
                }
            }
            Err(why) => failures.push((input, why)),
        }
    }
    println!(
        "fuzz {name}: {inputs} inputs in {:.1} s, {} distinct outcomes, {} failures",
        started.elapsed().as_secs_f64(),
        outcomes.len(),
        failures.len()
    );
    if failures.is_empty() {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-failures")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut report = String::new();
    for (i, (input, why)) in failures.iter().enumerate().take(20) {
        let path = dir.join(format!("{i}.bin"));
        std::fs::write(&path, input).unwrap();
        report.push_str(&format!("\n  {}: {why}", path.display()));
    }
    panic!(
        "fuzz {name}: {} inputs broke the contract:{report}",
        failures.len()
    );
}

/// An outcome's signature: the message without its numbers, quoted parts and source
/// snippet, so "at column 17" and "at column 18" are one outcome.
pub fn signature(message: &str) -> String {
    let message = message.split(" (near").next().unwrap_or(message);
    let mut out = String::new();
    let mut quoted = false;
    for c in message.chars().take(96) {
        match c {
            '"' | '`' => quoted = !quoted,
            _ if quoted => {}
            c if c.is_ascii_digit() => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            c => out.push(c),
        }
    }
    out
}
