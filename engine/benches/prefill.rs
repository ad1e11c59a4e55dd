//! Prefill's matrix products at TinyLlama shapes: `matmul` of each weight type by a batch of
//! tokens (the tiled products where the kernel has them), against the same pairs computed one
//! token at a time by `matvec` (the row dots; the matrix stays in cache, so this is their compute
//! ceiling, as the untiled batch path ran). Single-threaded, median of a few repetitions, in
//! giga multiply-accumulates per second.
//!
//! ```sh
//! cargo bench -p realizar --bench prefill                 # every type, 128 tokens
//! cargo bench -p realizar --bench prefill -- Q4_K 512     # a filter on the type, a token count
//! REALIZAR_BENCH_KERNEL=avx2 cargo bench -p realizar --bench prefill
//! ```

#[path = "common/mod.rs"]
mod common;

use common::{kernel, median};
use std::time::Instant;

use realizar::format::gguf::GgmlType;
use realizar::quant::{matmul, matvec, quantize, QMatrix};

const TYPES: [GgmlType; 11] = [
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
    GgmlType::Q5_K,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::F32,
];
/// (rows, cols): attention, FFN gate/up, FFN down.
const SHAPES: [(usize, usize); 3] = [(2048, 2048), (5632, 2048), (2048, 5632)];
const REPS: usize = 3;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let tokens = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(128);
    let filter = args.iter().find(|a| a.parse::<usize>().is_err());
    let kernel = kernel();
    kernel
        .check()
        .expect("the kernel asked for runs on this CPU");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    println!("kernel {kernel:?}, {tokens} tokens, 1 thread; GMAC/s");
    println!("| type | rows x cols | matmul (batch) | matvec per token | ratio |");
    println!("|---|---|---|---|---|");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut unit = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    for ty in TYPES {
        if filter.is_some_and(|f| !ty.name().eq_ignore_ascii_case(f)) {
            continue;
        }
        for (rows, cols) in SHAPES {
            let w: Vec<f32> = (0..rows * cols).map(|_| 0.05 * unit()).collect();
            let mut bytes = vec![0u8; ty.bytes_for((rows * cols) as u64).unwrap() as usize];
            quantize(ty, &w, &mut bytes).unwrap();
            let m = QMatrix::new(ty, rows, cols, &bytes).unwrap();
            let x: Vec<f32> = (0..tokens * cols).map(|_| unit()).collect();
            let mut y = vec![0.0f32; tokens * rows];
            let macs = (rows * cols * tokens) as f64 * 1e-9;
            let batch = median(
                (0..REPS)
                    .map(|_| {
                        let t = Instant::now();
                        pool.install(|| matmul(&m, &x, tokens, &mut y, kernel).unwrap());
                        macs / t.elapsed().as_secs_f64()
                    })
                    .collect(),
            );
            let single = median(
                (0..REPS)
                    .map(|_| {
                        let t = Instant::now();
                        pool.install(|| {
                            for (xt, yt) in x.chunks_exact(cols).zip(y.chunks_exact_mut(rows)) {
                                matvec(&m, xt, yt, kernel).unwrap();
                            }
                        });
                        macs / t.elapsed().as_secs_f64()
                    })
                    .collect(),
            );
            println!(
                "| {ty} | {rows} x {cols} | {batch:.1} | {single:.1} | {:.2}x |",
                batch / single
            );
        }
    }
}
