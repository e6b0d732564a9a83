//! Portable seeded random numbers: xoshiro256** seeded through splitmix64.
//!
//! Only integer arithmetic and one exact integer-to-float conversion are
//! involved, so a seed yields the same stream on every target (x86, arm,
//! wasm32), which keeps seeded generation reproducible across the native
//! server, the edge worker and the browser.

/// splitmix64's increment (the golden ratio in 64-bit fixed point).
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// splitmix64's output function: a bijective 64-bit mixer with `mix64(0) == 0`.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256** generator (Blackman & Vigna).
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the 256-bit state with four successive splitmix64 outputs, the
    /// seeding the xoshiro authors recommend; it never yields the all-zero
    /// state because splitmix64 outputs are a bijection of distinct inputs.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(GOLDEN_GAMMA);
            mix64(x)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    /// Generator for stream `stream` of a request seeded with `seed`, e.g. the
    /// i-th of n answers. It is `Rng::new(seed ^ mix64(stream))`: `mix64` is a
    /// bijection, so different streams of one seed start from different
    /// seeds, and `derive(seed, 0)` equals `new(seed)`, so a single answer
    /// (stream 0) draws exactly what a plain seeded generator would.
    pub fn derive(seed: u64, stream: u64) -> Self {
        Self::new(seed ^ mix64(stream))
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1): the top 53 bits scaled by 2^-53, both steps exact.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values come from this Python transcription of the published
    // C code (run with python3; it printed exactly the constants below):
    //
    //   M = (1 << 64) - 1
    //   def mix(z):
    //       z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    //       z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    //       return z ^ (z >> 31)
    //   def rotl(x, k): return ((x << k) | (x >> (64 - k))) & M
    //   class X:
    //       def __init__(s, seed):
    //           s.s, x = [], seed
    //           for _ in range(4):
    //               x = (x + 0x9e3779b97f4a7c15) & M; s.s.append(mix(x))
    //       def next(s):
    //           a = s.s
    //           r = (rotl((a[1] * 5) & M, 7) * 9) & M
    //           t = (a[1] << 17) & M
    //           a[2] ^= a[0]; a[3] ^= a[1]; a[1] ^= a[2]; a[0] ^= a[3]
    //           a[2] ^= t; a[3] = rotl(a[3], 45)
    //           return r
    //   x = X(0);  print([hex(x.next()) for _ in range(4)])
    //   x = X(42); print([hex(x.next()) for _ in range(4)])
    //   x = X(42); print([(x.next() >> 11) / 2**53 for _ in range(3)])
    //   print(hex(X(42 ^ mix(1)).next()))

    fn first(mut rng: Rng, n: usize) -> Vec<u64> {
        (0..n).map(|_| rng.next_u64()).collect()
    }

    #[test]
    fn seed_0_vector() {
        assert_eq!(
            first(Rng::new(0), 4),
            [
                0x99ec_5f36_cb75_f2b4,
                0xbf6e_1f78_4956_452a,
                0x1a5f_849d_4933_e6e0,
                0x6aa5_94f1_262d_2d2c
            ]
        );
    }

    #[test]
    fn seed_42_vector() {
        assert_eq!(
            first(Rng::new(42), 4),
            [
                0x1578_0b2e_0c2e_c716,
                0x6104_d986_6d11_3a7e,
                0xae17_5332_39e4_99a1,
                0xecb8_ad47_03b3_60a1
            ]
        );
    }

    #[test]
    fn f64_vector_and_range() {
        let mut rng = Rng::new(42);
        let got: Vec<f64> = (0..3).map(|_| rng.next_f64()).collect();
        assert_eq!(
            got,
            [0.08386297105988216, 0.3789802506626686, 0.6800434110281394]
        );
        let mut sum = 0.0;
        for _ in 0..100_000 {
            let x = rng.next_f64();
            assert!((0.0..1.0).contains(&x));
            sum += x;
        }
        assert!((sum / 100_000.0 - 0.5).abs() < 0.01);
    }

    #[test]
    fn same_seed_same_stream_different_seed_differs() {
        assert_eq!(first(Rng::new(7), 16), first(Rng::new(7), 16));
        assert_ne!(first(Rng::new(7), 16), first(Rng::new(8), 16));
    }

    #[test]
    fn derived_streams() {
        assert_eq!(first(Rng::derive(42, 0), 8), first(Rng::new(42), 8));
        assert_eq!(first(Rng::derive(42, 1), 1), [0x6519_7504_9fe9_c8f5]);
        let streams: Vec<Vec<u64>> = (0..8).map(|i| first(Rng::derive(42, i), 8)).collect();
        for i in 0..streams.len() {
            for j in i + 1..streams.len() {
                assert_ne!(streams[i], streams[j], "streams {i} and {j}");
            }
        }
        assert_eq!(first(Rng::derive(42, 3), 8), first(Rng::derive(42, 3), 8));
    }
}
