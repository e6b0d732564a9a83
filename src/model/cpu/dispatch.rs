//! Running a kernel on the best lanes the CPU has, and on every core.
//!
//! A kernel is written once, generic over [`Lanes`]; [`dispatch`] runs it compiled for the
//! best instruction set the CPU has (checked once, at run time): AVX-512 with VNNI and BF16,
//! AVX-VNNI, AVX2+FMA+F16C, else the build's portable lanes (simd128 in wasm, plain arrays
//! elsewhere). `HEARTH_CPU_ISA` picks a lesser one (to compare them). Everything a kernel
//! calls must be `#[inline(always)]` and its loops must hold no closures that compute, which
//! would not inherit the target features.

use std::cell::RefCell;
use std::sync::OnceLock;

use super::simd::{self, Lanes};

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub type Portable = simd::Wasm128;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub type Portable = simd::Scalar;

/// The instruction sets the kernels are compiled for, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    AvxVnni,
    Avx2,
    Portable,
}

impl Isa {
    pub const ALL: [Isa; 4] = [Isa::Avx512, Isa::AvxVnni, Isa::Avx2, Isa::Portable];

    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::AvxVnni => "avxvnni",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        }
    }

    /// Whether this CPU runs it.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("fma") && has!("f16c");
            match self {
                Isa::Avx512 => {
                    avx2 && has!("avx512f")
                        && has!("avx512bw")
                        && has!("avx512vl")
                        && has!("avx512vnni")
                        && has!("avx512bf16")
                }
                Isa::AvxVnni => avx2 && has!("avxvnni"),
                Isa::Avx2 => avx2,
                Isa::Portable => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Portable
        }
    }
}

/// The instruction set the kernels run on: the best this CPU has, or `HEARTH_CPU_ISA`'s when
/// it names one the CPU has (else the error says which it can).
pub fn isa() -> Result<Isa, String> {
    static CHOSEN: OnceLock<Result<Isa, String>> = OnceLock::new();
    CHOSEN
        .get_or_init(|| {
            let usable = || Isa::ALL.into_iter().filter(|i| i.available());
            let names = || usable().map(Isa::name).collect::<Vec<_>>().join(", ");
            match std::env::var("HEARTH_CPU_ISA") {
                Err(_) => Ok(usable().next().expect("portable lanes run anywhere")),
                Ok(name) => usable().find(|i| i.name() == name).ok_or_else(|| {
                    format!(
                        "HEARTH_CPU_ISA={name:?} is not one this CPU runs ({})",
                        names()
                    )
                }),
            }
        })
        .clone()
}

/// Per-thread buffers a kernel grows once and reuses.
#[derive(Default)]
pub struct Scratch {
    pub wide: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

pub trait Kernel {
    fn run<L: Lanes>(self, scratch: &mut Scratch);
}

pub fn dispatch<K: Kernel>(kernel: K) {
    // The network checked the choice when it loaded; a bad one cannot get here.
    run_on(isa().unwrap_or(Isa::Portable), kernel)
}

/// Runs `kernel` on `isa`'s lanes, which the CPU must have (see [`Isa::available`]).
pub fn run_on<K: Kernel>(isa: Isa, kernel: K) {
    assert!(isa.available(), "{} is not available here", isa.name());
    SCRATCH.with_borrow_mut(|scratch| match isa {
        // SAFETY (each): the CPU has the features the function is compiled for.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::avx512(kernel, scratch) },
        #[cfg(target_arch = "x86_64")]
        Isa::AvxVnni => unsafe { x86::avxvnni(kernel, scratch) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::avx2(kernel, scratch) },
        _ => kernel.run::<Portable>(scratch),
    })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Kernel, Scratch, simd};

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16")]
    pub unsafe fn avx512<K: Kernel>(kernel: K, scratch: &mut Scratch) {
        kernel.run::<simd::Avx512>(scratch)
    }

    #[target_feature(enable = "avx2,fma,f16c,avxvnni")]
    pub unsafe fn avxvnni<K: Kernel>(kernel: K, scratch: &mut Scratch) {
        kernel.run::<simd::AvxVnni>(scratch)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn avx2<K: Kernel>(kernel: K, scratch: &mut Scratch) {
        kernel.run::<simd::Avx2>(scratch)
    }
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
