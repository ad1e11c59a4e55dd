//! `ops::expf` (glibc's algorithm in Rust) against this platform's libm `expf` on every one of
//! the 2^32 f32 inputs, then SiLU-GLU's speed with it, eight at a time, against a libm call per
//! element. Where libm is glibc's FMA build (x86-64 with FMA), the count of differing inputs
//! should be 0; elsewhere it says how far the platform's libm is from glibc's.
//!
//! ```sh
//! cargo bench -p realizar --bench expf    # about a minute: the 2^32 inputs on one thread
//! ```

use std::time::Instant;

use realizar::ops::{expf, silu};

fn main() {
    let t = Instant::now();
    let (mut differ, mut first) = (0u64, None);
    for bits in 0..=u32::MAX {
        let x = f32::from_bits(bits);
        let (ours, libm) = (expf(x), std::hint::black_box(x).exp());
        if ours.to_bits() != libm.to_bits() && !(ours.is_nan() && libm.is_nan()) {
            differ += 1;
            first.get_or_insert((x, ours, libm));
        }
    }
    println!(
        "expf vs libm on all 2^32 inputs: {differ} differ{} ({:.0} s)",
        first.map_or(String::new(), |(x, o, l)| format!(
            ", first at {x:e}: {o:e} vs {l:e}"
        )),
        t.elapsed().as_secs_f64()
    );

    let n = 1 << 20;
    let gate: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 2001) as f32 / 100.0 - 10.0)
        .collect();
    let up = vec![1.0f32; n];
    let time = |f: &dyn Fn(&mut [f32])| {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let mut g = gate.clone();
            let t = Instant::now();
            f(&mut g);
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(&g);
        }
        n as f64 / best / 1e6
    };
    let libm = time(&|g| {
        for (g, &u) in g.iter_mut().zip(&up) {
            *g = *g / (1.0 + (-*g).exp()) * u;
        }
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let ours = time(&|g| {
        pool.install(|| realizar::ops::glu(realizar::ops::Activation::Silu, g, &up, true))
    });
    let scalar = time(&|g| {
        for (g, &u) in g.iter_mut().zip(&up) {
            *g = silu(*g) * u;
        }
    });
    println!(
        "SiLU-GLU, million values per second: libm per element {libm:.0}, ops::expf one at a time \
         {scalar:.0}, ops::glu {ours:.0} (one thread)"
    );
}
