//! Shared by the benches: the kernel to measure, the median of repeated timings, and the
//! read-bandwidth probe's loop (the ceiling decode is compared with).
#![allow(dead_code)]

use rayon::prelude::*;
use realizar::quant::Kernel;

/// The kernel to measure: `REALIZAR_BENCH_KERNEL` (scalar, avx2, avx512), else the best this
/// CPU runs. A kernel the CPU lacks fails the run rather than measuring another.
pub fn kernel() -> Kernel {
    let kernel = match std::env::var("REALIZAR_BENCH_KERNEL").as_deref() {
        Ok(name) => Kernel::from_name(name)
            .unwrap_or_else(|| panic!("REALIZAR_BENCH_KERNEL={name}: scalar, avx2 or avx512")),
        Err(_) => Kernel::best(),
    };
    kernel.check().expect("REALIZAR_BENCH_KERNEL");
    kernel
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Reads all of `data` on the current rayon pool: 32 independent sums per 1 MiB chunk, so the
/// loop is bound by loads, not by add latency.
pub fn read_all(data: &[f32]) -> f32 {
    data.par_chunks(1 << 20)
        .map(|chunk| {
            let mut acc = [0f32; 32];
            for lane in chunk.chunks_exact(32) {
                for k in 0..32 {
                    acc[k] += lane[k];
                }
            }
            acc.iter().sum::<f32>()
        })
        .sum::<f32>()
}
