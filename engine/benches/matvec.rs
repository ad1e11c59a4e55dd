//! Matvec throughput per weight type at TinyLlama shapes, 1 and 2 threads, with a plain f32
//! read-bandwidth probe in the same run. Every iteration reads a different copy of the matrix
//! (1 GiB of copies in all), so weights come from memory as in decode, never from the L3. After criterion's measurements, a table prints each
//! kernel's weight bytes per second as a fraction of the probe's bandwidth at the same thread
//! count.
//!
//! ```sh
//! cargo bench -p realizar --bench matvec            # everything (about 5 minutes)
//! cargo bench -p realizar --bench matvec -- Q4_K    # a filter, as criterion takes it
//! REALIZAR_BENCH_KERNEL=avx2 cargo bench -p realizar --bench matvec   # scalar, avx2 or avx512
//! ```

#[path = "common/mod.rs"]
mod common;

use common::kernel;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use realizar::format::gguf::GgmlType;
use realizar::quant::layout;
use realizar::quant::{matvec, QMatrix};

const TYPES: [GgmlType; 11] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::F32,
];
/// (rows, cols) of TinyLlama-1.1B's matrices: attention, FFN up/gate, FFN down, LM head.
const SHAPES: [(usize, usize); 4] = [(2048, 2048), (5632, 2048), (2048, 5632), (32000, 2048)];
const THREADS: [usize; 2] = [1, 2];
/// Larger than any last-level cache here (300 MiB of L3 on these machines), so the probe
/// measures memory, not cache.
const PROBE_BYTES: usize = 1 << 30;
/// Each matrix is copied until the copies span this many bytes, and iterations cycle through
/// them: the weights then stream from memory as they do in decode, instead of sitting in the L3.
/// `REALIZAR_BENCH_ROTATION_MB=0` benchmarks one cache-resident copy: the kernels' compute ceiling.
fn rotation_bytes() -> usize {
    std::env::var("REALIZAR_BENCH_ROTATION_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(1 << 30, |mb| mb << 20)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random blocks whose f16 scale fields are finite and small, so no kernel sees NaN or inf.
fn matrix_bytes(ty: GgmlType, rows: usize, cols: usize, rng: &mut Rng) -> Vec<u8> {
    let n = rows * cols / ty.block_size() as usize * ty.type_size() as usize;
    let mut bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
    let scale = half::f16::from_f32(0.01).to_le_bytes();
    let fields: Vec<usize> = match ty {
        GgmlType::Q4_0 => vec![layout::q4_0::D.start],
        GgmlType::Q4_1 => vec![layout::q4_1::D.start, layout::q4_1::M.start],
        GgmlType::Q5_0 => vec![layout::q5_0::D.start],
        GgmlType::Q5_1 => vec![layout::q5_1::D.start, layout::q5_1::M.start],
        GgmlType::Q8_0 => vec![layout::q8_0::D.start],
        GgmlType::Q4_K => vec![layout::q4_k::D.start, layout::q4_k::DMIN.start],
        GgmlType::Q5_K => vec![layout::q5_k::D.start, layout::q5_k::DMIN.start],
        GgmlType::Q6_K => vec![layout::q6_k::D.start],
        GgmlType::F16 | GgmlType::BF16 => {
            return (0..n / 2)
                .flat_map(|i| half::f16::from_f32((i % 97) as f32 * 1e-3).to_le_bytes())
                .collect();
        }
        GgmlType::F32 => {
            return (0..n / 4)
                .flat_map(|i| ((i % 97) as f32 * 1e-3).to_le_bytes())
                .collect()
        }
        other => unreachable!("{other} is not benchmarked"),
    };
    for block in bytes.chunks_exact_mut(ty.type_size() as usize) {
        for &at in &fields {
            block[at..at + 2].copy_from_slice(&scale);
        }
    }
    bytes
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn probe(c: &mut Criterion) {
    let data: Vec<f32> = (0..PROBE_BYTES / 4).map(|i| i as f32).collect();
    let mut g = c.benchmark_group("read_bandwidth");
    g.throughput(Throughput::Bytes(PROBE_BYTES as u64));
    for threads in THREADS {
        let pool = pool(threads);
        g.bench_function(BenchmarkId::from_parameter(threads), |b| {
            b.iter(|| pool.install(|| common::read_all(&data)))
        });
    }
    g.finish();
}

fn kernels(c: &mut Criterion) {
    let kernel = kernel();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for ty in TYPES {
        let mut g = c.benchmark_group(format!("matvec_{}", ty.name()));
        for (rows, cols) in SHAPES {
            let bytes = matrix_bytes(ty, rows, cols, &mut rng);
            let copies: Vec<Vec<u8>> = (0..rotation_bytes().div_ceil(bytes.len()).max(1))
                .map(|_| bytes.clone())
                .collect();
            let matrices: Vec<QMatrix> = copies
                .iter()
                .map(|b| QMatrix::new(ty, rows, cols, b).expect("matrix"))
                .collect();
            let x: Vec<f32> = (0..cols).map(|i| ((i % 13) as f32 - 6.0) * 0.1).collect();
            let mut y = vec![0.0f32; rows];
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            for threads in THREADS {
                let pool = pool(threads);
                let id = BenchmarkId::new(format!("{rows}x{cols}"), format!("{threads}t"));
                let mut next = 0;
                g.bench_function(id, |b| {
                    b.iter(|| {
                        next = (next + 1) % matrices.len();
                        pool.install(|| {
                            matvec(&matrices[next], black_box(&x), &mut y, kernel).expect("matvec")
                        })
                    })
                });
            }
        }
        g.finish();
    }
}

/// Criterion's mean estimate (ns) for one benchmark, read from its output folder.
fn mean_ns(root: &Path, group: &str, id: &str) -> Option<f64> {
    let path = root.join(group).join(id).join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn summary() {
    // target/release/deps/matvec-HASH -> target/criterion
    let exe = std::env::current_exe().expect("bench executable");
    let root = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            exe.ancestors()
                .nth(3)
                .expect("target dir")
                .join("criterion")
        });
    let probe: Vec<Option<f64>> = THREADS
        .iter()
        .map(|t| mean_ns(&root, "read_bandwidth", &t.to_string()).map(|ns| PROBE_BYTES as f64 / ns))
        .collect();
    println!(
        "\nmatvec throughput ({:?} kernel) as a fraction of f32 read bandwidth",
        kernel()
    );
    for (t, bw) in THREADS.iter().zip(&probe) {
        match bw {
            Some(bw) => println!("  read bandwidth, {t} thread(s): {bw:.1} GB/s"),
            None => println!("  read bandwidth, {t} thread(s): not measured in this run"),
        }
    }
    println!(
        "  {:<6} {:<11} {:>8} {:>7} {:>8} {:>7}",
        "type", "shape", "1t GB/s", "1t frac", "2t GB/s", "2t frac"
    );
    for ty in TYPES {
        for (rows, cols) in SHAPES {
            let bytes = (rows * cols) as f64 / ty.block_size() as f64 * ty.type_size() as f64;
            let mut cells = Vec::new();
            for (i, t) in THREADS.iter().enumerate() {
                let id = format!("{rows}x{cols}/{t}t");
                match (
                    mean_ns(&root, &format!("matvec_{}", ty.name()), &id),
                    probe[i],
                ) {
                    (Some(ns), Some(bw)) => {
                        cells.push(format!("{:>8.1} {:>7.2}", bytes / ns, bytes / ns / bw))
                    }
                    (Some(ns), None) => cells.push(format!("{:>8.1} {:>7}", bytes / ns, "-")),
                    _ => cells.push(format!("{:>8} {:>7}", "-", "-")),
                }
            }
            println!(
                "  {:<6} {:<11} {}",
                ty.name(),
                format!("{rows}x{cols}"),
                cells.join(" ")
            );
        }
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
        .configure_from_args();
    probe(&mut c);
    kernels(&mut c);
    c.final_summary();
    summary();
}
