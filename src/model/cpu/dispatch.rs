//! Running a kernel on the best lanes the CPU has, and on every core.
//!
//! A kernel is written once, generic over [`Lanes`]; [`dispatch`] runs it compiled for
//! AVX2+FMA+F16C when the CPU has them (checked at run time), else for the build's portable
//! lanes (simd128 in wasm, plain arrays elsewhere). Everything a kernel calls must be
//! `#[inline(always)]` and its loops must hold no closures that compute, which would not
//! inherit the target features.

use std::cell::RefCell;

use super::simd::{self, Lanes};

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub type Portable = simd::Wasm128;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub type Portable = simd::Scalar;

/// Per-thread buffers a kernel grows once and reuses.
#[derive(Default)]
pub struct Scratch {
    pub wide: Vec<f32>,
    pub scales: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

pub trait Kernel {
    fn run<L: Lanes>(self, scratch: &mut Scratch);
}

pub fn dispatch<K: Kernel>(kernel: K) {
    SCRATCH.with_borrow_mut(|scratch| {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { run_avx2(kernel, scratch) };
        }
        kernel.run::<Portable>(scratch)
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn run_avx2<K: Kernel>(kernel: K, scratch: &mut Scratch) {
    kernel.run::<simd::Avx2>(scratch)
}

/// The threads work is shared among: rayon's pool (natively, and in the browser's threaded build), else one.
pub fn threads() -> usize {
    #[cfg(feature = "threads")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "threads"))]
    1
}

/// [`for_each_chunk`] over two outputs split in step: chunk `i` of `a` (`a_size` long) with
/// chunk `i` of `b` (`b_size` long).
pub fn for_each_chunk_pair<A: Send, B: Send>(
    (a, a_size): (&mut [A], usize),
    (b, b_size): (&mut [B], usize),
    task: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        a.par_chunks_mut(a_size)
            .zip(b.par_chunks_mut(b_size))
            .enumerate()
            .for_each(|(i, (a, b))| task(i, a, b));
    }
    #[cfg(not(feature = "threads"))]
    for (i, (a, b)) in a.chunks_mut(a_size).zip(b.chunks_mut(b_size)).enumerate() {
        task(i, a, b);
    }
}

/// `task(index, chunk)` for each `size`-long chunk of `out`, on every core.
pub fn for_each_chunk<T: Send>(
    out: &mut [T],
    size: usize,
    task: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(size)
            .enumerate()
            .for_each(|(i, chunk)| task(i, chunk));
    }
    #[cfg(not(feature = "threads"))]
    for (i, chunk) in out.chunks_mut(size).enumerate() {
        task(i, chunk);
    }
}
