//! Eight f32 lanes, the one vector shape the kernels are written in, for each instruction set
//! they run on: AVX-512 (VNNI and BF16, in 256-bit registers), AVX-VNNI and AVX2 natively
//! (chosen at run time), wasm's simd128 (chosen at build time), and plain arrays elsewhere.
//!
//! 256 bits and not 512 even on AVX-512: the products run at the same rate per byte on AMD's
//! Zen 4 either way, and one shape keeps one kernel source for every CPU.

/// The operations the kernels need. Every method is `#[inline(always)]` so that it compiles
/// with the target features of the kernel it is inlined into.
pub trait Lanes {
    type F: Copy;
    /// Eight i32 lanes.
    type I: Copy;
    /// One 32-byte load of a group of quantized weights (see `groups`), as the products take it.
    type W: Copy;
    /// One 32-byte load of a group of int8 input levels (within ±127), as the products take it.
    type X: Copy;
    /// 16 bfloat16 values.
    type H: Copy;
    fn zero() -> Self::F;
    fn splat(v: f32) -> Self::F;
    fn mul(a: Self::F, b: Self::F) -> Self::F;
    /// The first 8 values of `s`.
    fn load(s: &[f32]) -> Self::F;
    /// The first 8 IEEE half values of `s`, widened.
    fn load_f16(s: &[u16]) -> Self::F;
    /// Writes the lanes to the first 8 values of `s`.
    fn store(a: Self::F, s: &mut [f32]);
    /// `a · b + acc`.
    fn fma(a: Self::F, b: Self::F, acc: Self::F) -> Self::F;
    fn sum(a: Self::F) -> f32;
    /// The first 16 bfloat16 values of `s`.
    fn load_bf16(s: &[u16]) -> Self::H;
    /// `acc` plus the 16 products of `w` and `x`, in f32.
    fn dot_bf16(w: Self::H, x: Self::H, acc: Self::F) -> Self::F;
    fn q8_input(x: &[i8]) -> Self::X;
    fn q4_input(x: &[i8]) -> Self::X;
    fn q8_weights(w: &[i8]) -> Self::W;
    /// Two loads of q4 weights from 32 bytes: their low nibbles and their high nibbles.
    fn q4_weights(w: &[u8]) -> (Self::W, Self::W);
    /// One load of q4 weights from 16 bytes: low nibbles, then high (groups of one block).
    fn q4_weights_half(w: &[u8]) -> Self::W;
    /// Where a group's q8 / q4 products start: the input's lane sums times minus the
    /// weights' offset (`groups::Int8Rows`), if the products take the weights offset, else 0.
    fn q8_base(bases: &[i32]) -> Self::I;
    fn q4_base(bases: &[i32]) -> Self::I;
    /// `acc` plus each lane's four byte products, exact.
    fn dot_q8(acc: Self::I, w: Self::W, x: Self::X) -> Self::I;
    fn dot_q4(acc: Self::I, w: Self::W, x: Self::X) -> Self::I;
    fn to_f32(i: Self::I) -> Self::F;
    /// A group's `G` block scales, each in the lanes its block's products land in.
    fn group_scales<const G: usize>(s: &[u16]) -> Self::F;
    fn group_scales_f32<const G: usize>(s: &[f32]) -> Self::F;
}

pub struct Scalar;

impl Lanes for Scalar {
    type F = [f32; 8];
    /// Lane `l` holds block `l % 4` of a group.
    type I = [i32; 8];
    /// Signed levels.
    type W = [i8; 32];
    type X = [i8; 32];
    type H = [u16; 16];

    #[inline(always)]
    fn zero() -> Self::F {
        [0.0; 8]
    }

    #[inline(always)]
    fn splat(v: f32) -> Self::F {
        [v; 8]
    }

    #[inline(always)]
    fn mul(a: Self::F, b: Self::F) -> Self::F {
        std::array::from_fn(|i| a[i] * b[i])
    }

    #[inline(always)]
    fn load(s: &[f32]) -> Self::F {
        s[..8].try_into().unwrap()
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
    fn load_bf16(s: &[u16]) -> Self::H {
        s[..16].try_into().unwrap()
    }

    #[inline(always)]
    fn dot_bf16(w: Self::H, x: Self::H, acc: Self::F) -> Self::F {
        use super::convert::bf16_to_f32;
        std::array::from_fn(|i| {
            let pair = |j: usize| bf16_to_f32(w[j]) * bf16_to_f32(x[j]);
            acc[i] + pair(2 * i) + pair(2 * i + 1)
        })
    }

    #[inline(always)]
    fn q8_input(x: &[i8]) -> Self::X {
        x[..32].try_into().unwrap()
    }

    #[inline(always)]
    fn q4_input(x: &[i8]) -> Self::X {
        Self::q8_input(x)
    }

    #[inline(always)]
    fn q8_weights(w: &[i8]) -> Self::W {
        w[..32].try_into().unwrap()
    }

    #[inline(always)]
    fn q4_weights(w: &[u8]) -> (Self::W, Self::W) {
        (
            std::array::from_fn(|i| (w[i] & 0x0f) as i8 - 8),
            std::array::from_fn(|i| (w[i] >> 4) as i8 - 8),
        )
    }

    #[inline(always)]
    fn q4_weights_half(w: &[u8]) -> Self::W {
        let mut levels = [0i8; 32];
        super::convert::unpack_q4(w, &mut levels);
        levels
    }

    #[inline(always)]
    fn q8_base(_: &[i32]) -> Self::I {
        [0; 8]
    }

    #[inline(always)]
    fn q4_base(_: &[i32]) -> Self::I {
        [0; 8]
    }

    #[inline(always)]
    fn dot_q8(acc: Self::I, w: Self::W, x: Self::X) -> Self::I {
        std::array::from_fn(|l| {
            acc[l]
                + (0..4)
                    .map(|q| w[4 * l + q] as i32 * x[4 * l + q] as i32)
                    .sum::<i32>()
        })
    }

    #[inline(always)]
    fn dot_q4(acc: Self::I, w: Self::W, x: Self::X) -> Self::I {
        Self::dot_q8(acc, w, x)
    }

    #[inline(always)]
    fn to_f32(i: Self::I) -> Self::F {
        i.map(|v| v as f32)
    }

    #[inline(always)]
    fn group_scales<const G: usize>(s: &[u16]) -> Self::F {
        std::array::from_fn(|l| super::convert::f16_to_f32(s[l % G]))
    }

    #[inline(always)]
    fn group_scales_f32<const G: usize>(s: &[f32]) -> Self::F {
        std::array::from_fn(|l| s[l % G])
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512, AvxVnni};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::marker::PhantomData;

    use super::Lanes;

    /// AVX2 lanes with one of three ways to multiply bytes and bfloat16 values. Only used
    /// inside functions compiled for that way's target features after checking the CPU.
    pub struct X86<P>(PhantomData<P>);

    /// AVX2+FMA+F16C: bytes through maddubs, bfloat16 widened.
    pub type Avx2 = X86<Maddubs>;
    /// AVX-VNNI (the VEX encoding, on CPUs without AVX-512): bytes through vpdpbusd.
    pub type AvxVnni = X86<VexVnni>;
    /// AVX-512 F/BW/VL/VNNI/BF16 in 256-bit registers: vpdpbusd and vdpbf16ps.
    pub type Avx512 = X86<Avx512Dots>;

    pub struct Maddubs;
    pub struct VexVnni;
    pub struct Avx512Dots;

    /// How bytes and bfloat16 pairs are multiplied. The byte products take one side
    /// unsigned: q4's nibbles are, and q8's levels are made so by an offset of 128 whose
    /// products the group's base takes off again; maddubs, which would overflow i16 with that
    /// offset, moves the input's sign onto the weights instead.
    pub trait Products {
        /// Whether q8 weights take the offset of 128.
        const Q8_OFFSET: bool;
        /// `acc + Σ u·s` over each lane's four byte pairs, `u` unsigned and `s` signed; exact
        /// for every pair with VNNI, and with maddubs while two products fit i16 (nibbles, or
        /// magnitudes, against ±127).
        unsafe fn dot_u8(acc: __m256i, u: __m256i, s: __m256i) -> __m256i;
        unsafe fn dot_bf16(w: __m256i, x: __m256i, acc: __m256) -> __m256;
    }

    // SAFETY (every block below): callers run only on CPUs with the features of the way
    // chosen, and every load reads within the slice it was given (asserted).
    impl Products for Maddubs {
        const Q8_OFFSET: bool = false;

        #[inline(always)]
        unsafe fn dot_u8(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
            unsafe {
                let pairs = _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
                _mm256_add_epi32(acc, pairs)
            }
        }

        #[inline(always)]
        unsafe fn dot_bf16(w: __m256i, x: __m256i, acc: __m256) -> __m256 {
            unsafe {
                let acc = _mm256_fmadd_ps(widen_low(w), widen_low(x), acc);
                _mm256_fmadd_ps(widen_high(w), widen_high(x), acc)
            }
        }
    }

    impl Products for VexVnni {
        const Q8_OFFSET: bool = true;

        #[inline(always)]
        unsafe fn dot_u8(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
            unsafe { _mm256_dpbusd_avx_epi32(acc, u, s) }
        }

        #[inline(always)]
        unsafe fn dot_bf16(w: __m256i, x: __m256i, acc: __m256) -> __m256 {
            unsafe { Maddubs::dot_bf16(w, x, acc) }
        }
    }

    impl Products for Avx512Dots {
        const Q8_OFFSET: bool = true;

        #[inline(always)]
        unsafe fn dot_u8(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
            unsafe { _mm256_dpbusd_epi32(acc, u, s) }
        }

        #[inline(always)]
        unsafe fn dot_bf16(w: __m256i, x: __m256i, acc: __m256) -> __m256 {
            // SAFETY: __m256bh is 16 bfloat16 values in the same 256 bits.
            unsafe {
                let [w, x] = std::mem::transmute::<[__m256i; 2], [__m256bh; 2]>([w, x]);
                _mm256_dpbf16_ps(acc, w, x)
            }
        }
    }

    #[inline(always)]
    unsafe fn widen_low(v: __m256i) -> __m256 {
        unsafe { _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)) }
    }

    #[inline(always)]
    unsafe fn widen_high(v: __m256i) -> __m256 {
        unsafe { _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(-65536))) }
    }

    /// The first 32 bytes of `s`.
    #[inline(always)]
    fn bytes<T>(s: &[T]) -> __m256i {
        assert!(size_of_val(s) >= 32);
        // SAFETY: 32 bytes are in bounds; the load takes unaligned addresses.
        unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
    }

    impl<P: Products> Lanes for X86<P> {
        type F = __m256;
        /// Lane `l` holds block `l % 4` of a group.
        type I = __m256i;
        type W = __m256i;
        /// The bytes, and (for maddubs on q8) their magnitudes.
        type X = (__m256i, __m256i);
        type H = __m256i;

        #[inline(always)]
        fn zero() -> __m256 {
            unsafe { _mm256_setzero_ps() }
        }

        #[inline(always)]
        fn splat(v: f32) -> __m256 {
            unsafe { _mm256_set1_ps(v) }
        }

        #[inline(always)]
        fn mul(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }

        #[inline(always)]
        fn load(s: &[f32]) -> __m256 {
            assert!(s.len() >= 8);
            unsafe { _mm256_loadu_ps(s.as_ptr()) }
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
        fn load_bf16(s: &[u16]) -> __m256i {
            bytes(s)
        }

        #[inline(always)]
        fn dot_bf16(w: __m256i, x: __m256i, acc: __m256) -> __m256 {
            unsafe { P::dot_bf16(w, x, acc) }
        }

        #[inline(always)]
        fn q8_input(x: &[i8]) -> Self::X {
            let x = bytes(x);
            if P::Q8_OFFSET {
                (x, x)
            } else {
                (x, unsafe { _mm256_sign_epi8(x, x) })
            }
        }

        #[inline(always)]
        fn q4_input(x: &[i8]) -> Self::X {
            let x = bytes(x);
            (x, x)
        }

        #[inline(always)]
        fn q8_weights(w: &[i8]) -> __m256i {
            let w = bytes(w);
            if P::Q8_OFFSET {
                unsafe { _mm256_xor_si256(w, _mm256_set1_epi8(-128)) }
            } else {
                w
            }
        }

        #[inline(always)]
        fn q4_weights(w: &[u8]) -> (__m256i, __m256i) {
            let packed = bytes(w);
            unsafe {
                let nibble = _mm256_set1_epi8(0x0f);
                let low = _mm256_and_si256(packed, nibble);
                (low, _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble))
            }
        }

        #[inline(always)]
        fn q4_weights_half(w: &[u8]) -> __m256i {
            assert!(w.len() >= 16);
            unsafe {
                let packed = _mm_loadu_si128(w.as_ptr().cast());
                let nibble = _mm_set1_epi8(0x0f);
                let high = _mm_and_si128(_mm_srli_epi16(packed, 4), nibble);
                _mm256_set_m128i(high, _mm_and_si128(packed, nibble))
            }
        }

        #[inline(always)]
        fn q8_base(bases: &[i32]) -> __m256i {
            if P::Q8_OFFSET {
                bytes(bases)
            } else {
                unsafe { _mm256_setzero_si256() }
            }
        }

        #[inline(always)]
        fn q4_base(bases: &[i32]) -> __m256i {
            bytes(bases)
        }

        #[inline(always)]
        fn dot_q8(acc: __m256i, w: __m256i, x: Self::X) -> __m256i {
            unsafe {
                if P::Q8_OFFSET {
                    P::dot_u8(acc, w, x.0)
                } else {
                    P::dot_u8(acc, x.1, _mm256_sign_epi8(w, x.0))
                }
            }
        }

        #[inline(always)]
        fn dot_q4(acc: __m256i, w: __m256i, x: Self::X) -> __m256i {
            unsafe { P::dot_u8(acc, w, x.0) }
        }

        #[inline(always)]
        fn to_f32(i: __m256i) -> __m256 {
            unsafe { _mm256_cvtepi32_ps(i) }
        }

        #[inline(always)]
        fn group_scales<const G: usize>(s: &[u16]) -> __m256 {
            assert!(s.len() >= G);
            // Lane l holds block l % G: the G scales repeated.
            unsafe {
                let halves = match G {
                    4 => _mm_loadl_epi64(s.as_ptr().cast()),
                    2 => _mm_set1_epi32(s.as_ptr().cast::<i32>().read_unaligned()),
                    _ => _mm_set1_epi16(s[0] as i16),
                };
                let four = _mm_cvtph_ps(halves);
                _mm256_set_m128(four, four)
            }
        }

        #[inline(always)]
        fn group_scales_f32<const G: usize>(s: &[f32]) -> __m256 {
            assert!(s.len() >= G);
            unsafe {
                match G {
                    4 => _mm256_broadcast_ps(&*s.as_ptr().cast()),
                    2 => _mm256_castpd_ps(_mm256_broadcast_sd(&*s.as_ptr().cast())),
                    _ => _mm256_set1_ps(s[0]),
                }
            }
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
        /// Lanes of i32 holding a group's blocks 0, 0, 1, 1 and 2, 2, 3, 3 (what widening
        /// byte products pairwise gives).
        type I = (v128, v128);
        /// Signed levels.
        type W = (v128, v128);
        type X = (v128, v128);
        type H = (v128, v128);

        #[inline(always)]
        fn zero() -> Self::F {
            (f32x4_splat(0.0), f32x4_splat(0.0))
        }

        #[inline(always)]
        fn splat(v: f32) -> Self::F {
            (f32x4_splat(v), f32x4_splat(v))
        }

        #[inline(always)]
        fn mul(a: Self::F, b: Self::F) -> Self::F {
            (f32x4_mul(a.0, b.0), f32x4_mul(a.1, b.1))
        }

        #[inline(always)]
        fn load(s: &[f32]) -> Self::F {
            load2(s)
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
        fn load_bf16(s: &[u16]) -> Self::H {
            load2(s)
        }

        #[inline(always)]
        fn dot_bf16(w: Self::H, x: Self::H, acc: Self::F) -> Self::F {
            let acc = Self::fma(widen(w.0), widen(x.0), acc);
            Self::fma(widen(w.1), widen(x.1), acc)
        }

        #[inline(always)]
        fn q8_input(x: &[i8]) -> Self::X {
            load2(x)
        }

        #[inline(always)]
        fn q4_input(x: &[i8]) -> Self::X {
            load2(x)
        }

        #[inline(always)]
        fn q8_weights(w: &[i8]) -> Self::W {
            load2(w)
        }

        #[inline(always)]
        fn q4_weights(w: &[u8]) -> (Self::W, Self::W) {
            let packed = load2(w);
            let eight = i8x16_splat(8);
            let low = |v: v128| i8x16_sub(v128_and(v, u8x16_splat(0x0f)), eight);
            let high = |v: v128| i8x16_sub(u8x16_shr(v, 4), eight);
            (
                (low(packed.0), low(packed.1)),
                (high(packed.0), high(packed.1)),
            )
        }

        #[inline(always)]
        fn q4_weights_half(w: &[u8]) -> Self::W {
            assert!(w.len() >= 16);
            // SAFETY: 16 bytes are in bounds.
            let packed = unsafe { v128_load(w.as_ptr().cast()) };
            let eight = i8x16_splat(8);
            (
                i8x16_sub(v128_and(packed, u8x16_splat(0x0f)), eight),
                i8x16_sub(u8x16_shr(packed, 4), eight),
            )
        }

        #[inline(always)]
        fn q8_base(_: &[i32]) -> Self::I {
            (i32x4_splat(0), i32x4_splat(0))
        }

        #[inline(always)]
        fn q4_base(_: &[i32]) -> Self::I {
            (i32x4_splat(0), i32x4_splat(0))
        }

        #[inline(always)]
        fn dot_q8(acc: Self::I, w: Self::W, x: Self::X) -> Self::I {
            let low = |w: v128, x: v128| i32x4_extadd_pairwise_i16x8(i16x8_extmul_low_i8x16(w, x));
            let high =
                |w: v128, x: v128| i32x4_extadd_pairwise_i16x8(i16x8_extmul_high_i8x16(w, x));
            (
                i32x4_add(acc.0, i32x4_add(low(w.0, x.0), low(w.1, x.1))),
                i32x4_add(acc.1, i32x4_add(high(w.0, x.0), high(w.1, x.1))),
            )
        }

        #[inline(always)]
        fn dot_q4(acc: Self::I, w: Self::W, x: Self::X) -> Self::I {
            Self::dot_q8(acc, w, x)
        }

        #[inline(always)]
        fn to_f32(i: Self::I) -> Self::F {
            (f32x4_convert_i32x4(i.0), f32x4_convert_i32x4(i.1))
        }

        #[inline(always)]
        fn group_scales<const G: usize>(s: &[u16]) -> Self::F {
            let wide: [f32; 4] =
                std::array::from_fn(|i| super::super::convert::f16_to_f32(s[i % G]));
            Self::group_scales_f32::<4>(&wide)
        }

        #[inline(always)]
        fn group_scales_f32<const G: usize>(s: &[f32]) -> Self::F {
            // Lanes of four bytes 0, 1 | 2, 3 give i32 lanes 0, 0, 1, 1 | 2, 2, 3, 3 (and the
            // second half of a load the same again, as 4 % G = 0): block (lane of four) % G.
            let b = |l: usize| s[l % G];
            (f32x4(b(0), b(0), b(1), b(1)), f32x4(b(2), b(2), b(3), b(3)))
        }
    }

    /// The first 32 bytes of `s`, as two vectors.
    #[inline(always)]
    fn load2<T>(s: &[T]) -> (v128, v128) {
        assert!(size_of_val(s) >= 32);
        let p = s.as_ptr().cast::<v128>();
        // SAFETY: 32 bytes are in bounds; v128_load takes unaligned addresses.
        unsafe { (v128_load(p), v128_load(p.add(1))) }
    }

    /// Four bfloat16 values (the first, third, fifth and seventh of `v`'s eight) as f32; the
    /// other four are the high halves of the same lanes.
    #[inline(always)]
    fn widen(v: v128) -> (v128, v128) {
        (i32x4_shl(v, 16), v128_and(v, i32x4_splat(-65536)))
    }
}
