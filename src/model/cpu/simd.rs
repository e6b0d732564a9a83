//! Eight f32 lanes, the one vector shape the kernels are written in, for each instruction set
//! they run on: AVX2+FMA (chosen at run time natively), wasm's simd128 (chosen at build
//! time), and plain arrays everywhere else.

/// The operations the kernels need. Every method is `#[inline(always)]` so that it compiles
/// with the target features of the kernel it is inlined into.
pub trait Lanes {
    type F: Copy;
    fn zero() -> Self::F;
    fn splat(v: f32) -> Self::F;
    /// The first 8 values of `s`.
    fn load(s: &[f32]) -> Self::F;
    /// The first 8 bfloat16 / IEEE half values of `s`, widened.
    fn load_bf16(s: &[u16]) -> Self::F;
    fn load_f16(s: &[u16]) -> Self::F;
    /// Writes the lanes to the first 8 values of `s`.
    fn store(a: Self::F, s: &mut [f32]);
    /// `a · b + acc`.
    fn fma(a: Self::F, b: Self::F, acc: Self::F) -> Self::F;
    fn sum(a: Self::F) -> f32;
    /// The products of two 32-value int8 blocks (x within ±127), summed to 8 partial sums.
    fn dot_i8(w: &[i8], x: &[i8]) -> Self::F;
    /// [`Lanes::dot_i8`] with `w` a q4 block's stored nibbles (16 bytes of two each, see
    /// `convert::quantize_q4`) taken as 0..=15, without their offset of 8.
    fn dot_nibbles(w: &[u8], x: &[i8]) -> Self::F;
}

pub struct Scalar;

impl Lanes for Scalar {
    type F = [f32; 8];

    #[inline(always)]
    fn zero() -> Self::F {
        [0.0; 8]
    }

    #[inline(always)]
    fn splat(v: f32) -> Self::F {
        [v; 8]
    }

    #[inline(always)]
    fn load(s: &[f32]) -> Self::F {
        s[..8].try_into().unwrap()
    }

    #[inline(always)]
    fn load_bf16(s: &[u16]) -> Self::F {
        std::array::from_fn(|i| super::convert::bf16_to_f32(s[i]))
    }

    #[inline(always)]
    fn load_f16(s: &[u16]) -> Self::F {
        std::array::from_fn(|i| super::convert::f16_to_f32(s[i]))
    }

    #[inline(always)]
    fn store(a: Self::F, s: &mut [f32]) {
        s[..8].copy_from_slice(&a);
    }

    #[inline(always)]
    fn fma(a: Self::F, b: Self::F, acc: Self::F) -> Self::F {
        std::array::from_fn(|i| a[i] * b[i] + acc[i])
    }

    #[inline(always)]
    fn sum(a: Self::F) -> f32 {
        a.iter().sum()
    }

    #[inline(always)]
    fn dot_i8(w: &[i8], x: &[i8]) -> Self::F {
        std::array::from_fn(|lane| {
            (0..4)
                .map(|j| w[lane * 4 + j] as i32 * x[lane * 4 + j] as i32)
                .sum::<i32>() as f32
        })
    }

    #[inline(always)]
    fn dot_nibbles(w: &[u8], x: &[i8]) -> Self::F {
        let mut levels = [0i8; 32];
        super::convert::unpack_q4(w, &mut levels);
        std::array::from_fn(|lane| {
            (0..4)
                .map(|j| (levels[lane * 4 + j] as i32 + 8) * x[lane * 4 + j] as i32)
                .sum::<i32>() as f32
        })
    }
}

#[cfg(target_arch = "x86_64")]
pub use avx2::Avx2;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::Lanes;

    /// Only used inside functions compiled with `avx2,fma,f16c` after checking the CPU.
    pub struct Avx2;

    // SAFETY (every block below): callers run only on CPUs with AVX2, FMA and F16C, and every
    // load reads within the slice it was given (the kernels pass slices of at least 8 or 32).
    impl Lanes for Avx2 {
        type F = __m256;

        #[inline(always)]
        fn zero() -> __m256 {
            unsafe { _mm256_setzero_ps() }
        }

        #[inline(always)]
        fn splat(v: f32) -> __m256 {
            unsafe { _mm256_set1_ps(v) }
        }

        #[inline(always)]
        fn load(s: &[f32]) -> __m256 {
            assert!(s.len() >= 8);
            unsafe { _mm256_loadu_ps(s.as_ptr()) }
        }

        #[inline(always)]
        fn load_bf16(s: &[u16]) -> __m256 {
            assert!(s.len() >= 8);
            unsafe {
                let half = _mm_loadu_si128(s.as_ptr().cast());
                _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16))
            }
        }

        #[inline(always)]
        fn load_f16(s: &[u16]) -> __m256 {
            assert!(s.len() >= 8);
            unsafe { _mm256_cvtph_ps(_mm_loadu_si128(s.as_ptr().cast())) }
        }

        #[inline(always)]
        fn store(a: __m256, s: &mut [f32]) {
            assert!(s.len() >= 8);
            unsafe { _mm256_storeu_ps(s.as_mut_ptr(), a) }
        }

        #[inline(always)]
        fn fma(a: __m256, b: __m256, acc: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, acc) }
        }

        #[inline(always)]
        fn sum(a: __m256) -> f32 {
            unsafe {
                let quad = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
                let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
                _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)))
            }
        }

        #[inline(always)]
        fn dot_i8(w: &[i8], x: &[i8]) -> __m256 {
            assert!(w.len() >= 32 && x.len() >= 32);
            unsafe {
                let w = _mm256_loadu_si256(w.as_ptr().cast());
                dot_bytes(w, _mm256_loadu_si256(x.as_ptr().cast()))
            }
        }

        #[inline(always)]
        fn dot_nibbles(w: &[u8], x: &[i8]) -> __m256 {
            assert!(w.len() >= 16 && x.len() >= 32);
            unsafe {
                let packed = _mm_loadu_si128(w.as_ptr().cast());
                let low = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
                let high = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f));
                // Nibbles are unsigned already: maddubs takes them as they are.
                let x = _mm256_loadu_si256(x.as_ptr().cast());
                let pairs = _mm256_maddubs_epi16(_mm256_set_m128i(high, low), x);
                _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
            }
        }
    }

    /// 32 signed byte products summed in pairs, then in fours, as 8 floats.
    #[inline(always)]
    unsafe fn dot_bytes(w: __m256i, x: __m256i) -> __m256 {
        unsafe {
            // maddubs multiplies unsigned by signed bytes: move x's sign onto w.
            let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(w, x));
            _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use wasm::Wasm128;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use core::arch::wasm32::*;

    use super::Lanes;

    /// Two 128-bit vectors; the build enables simd128, so there is nothing to check.
    pub struct Wasm128;

    impl Lanes for Wasm128 {
        type F = (v128, v128);

        #[inline(always)]
        fn zero() -> Self::F {
            (f32x4_splat(0.0), f32x4_splat(0.0))
        }

        #[inline(always)]
        fn splat(v: f32) -> Self::F {
            (f32x4_splat(v), f32x4_splat(v))
        }

        #[inline(always)]
        fn load(s: &[f32]) -> Self::F {
            assert!(s.len() >= 8);
            // SAFETY: 8 values are in bounds; v128_load takes unaligned addresses.
            unsafe {
                (
                    v128_load(s.as_ptr().cast()),
                    v128_load(s[4..].as_ptr().cast()),
                )
            }
        }

        #[inline(always)]
        fn load_bf16(s: &[u16]) -> Self::F {
            assert!(s.len() >= 8);
            // SAFETY: as in `load`.
            let half = unsafe { v128_load(s.as_ptr().cast()) };
            (
                i32x4_shl(u32x4_extend_low_u16x8(half), 16),
                i32x4_shl(u32x4_extend_high_u16x8(half), 16),
            )
        }

        #[inline(always)]
        fn load_f16(s: &[u16]) -> Self::F {
            let wide = super::Scalar::load_f16(s);
            Self::load(&wide)
        }

        #[inline(always)]
        fn store(a: Self::F, s: &mut [f32]) {
            assert!(s.len() >= 8);
            // SAFETY: 8 values are in bounds; v128_store takes unaligned addresses.
            unsafe {
                v128_store(s.as_mut_ptr().cast(), a.0);
                v128_store(s[4..].as_mut_ptr().cast(), a.1);
            }
        }

        #[inline(always)]
        fn fma(a: Self::F, b: Self::F, acc: Self::F) -> Self::F {
            (
                f32x4_add(f32x4_mul(a.0, b.0), acc.0),
                f32x4_add(f32x4_mul(a.1, b.1), acc.1),
            )
        }

        #[inline(always)]
        fn sum(a: Self::F) -> f32 {
            let s = f32x4_add(a.0, a.1);
            f32x4_extract_lane::<0>(s)
                + f32x4_extract_lane::<1>(s)
                + f32x4_extract_lane::<2>(s)
                + f32x4_extract_lane::<3>(s)
        }

        #[inline(always)]
        fn dot_i8(w: &[i8], x: &[i8]) -> Self::F {
            assert!(w.len() >= 32 && x.len() >= 32);
            // SAFETY: 32 bytes of each are in bounds.
            let (w, x) = unsafe { (load2(w.as_ptr().cast()), load2(x.as_ptr().cast())) };
            (dot_bytes(w.0, x.0), dot_bytes(w.1, x.1))
        }

        #[inline(always)]
        fn dot_nibbles(w: &[u8], x: &[i8]) -> Self::F {
            assert!(w.len() >= 16 && x.len() >= 32);
            // SAFETY: 16 bytes of `w` and 32 of `x` are in bounds.
            let (packed, x) = unsafe { (v128_load(w.as_ptr().cast()), load2(x.as_ptr().cast())) };
            // 0..=15 read as signed bytes is still 0..=15.
            let low = v128_and(packed, u8x16_splat(0x0f));
            let high = u8x16_shr(packed, 4);
            (dot_bytes(low, x.0), dot_bytes(high, x.1))
        }
    }

    unsafe fn load2(p: *const v128) -> (v128, v128) {
        unsafe { (v128_load(p), v128_load(p.add(1))) }
    }

    /// 16 signed byte products summed in fours, as 4 floats.
    #[inline(always)]
    fn dot_bytes(w: v128, x: v128) -> v128 {
        f32x4_convert_i32x4(i32x4_add(
            i32x4_extadd_pairwise_i16x8(i16x8_extmul_low_i8x16(w, x)),
            i32x4_extadd_pairwise_i16x8(i16x8_extmul_high_i8x16(w, x)),
        ))
    }
}
