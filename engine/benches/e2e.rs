//! realizar against llama.cpp on the same GGUF files, in one run: prefill (128 and 512 tokens,
//! each in one batch) and decode (32 tokens, one per call) tokens/s at 1 and 2 threads, with the
//! ratio per row; beside decode, the read-bandwidth ceiling (this run's measured read bandwidth
//! at that thread count over the weight bytes one token reads); and realizar's anonymous memory
//! (everything but the mapped file), with the part of it that decode's weights packed at load
//! take (`quant::Packed`).
//!
//! ```sh
//! make bench-e2e    # generates the TinyLlama-shaped model, quantizes it, then runs this
//! ```
//!
//! llama.cpp is timed with `llama-bench -p 128,512 -n 32 -r 3 --repack 0,1` and `OMP_WAIT_POLICY=PASSIVE` (its
//! OpenMP threads otherwise spin and collapse on a busy 2-core machine). Both engines take the
//! median of three repetitions; llama-bench reports its mean. The llama-bench is the one
//! `bench_model.py` builds for this CPU (GGML_NATIVE=ON: the llama.cpp a user of this machine
//! would build) unless `REALIZAR_E2E_LLAMA_BENCH` names another. llama.cpp runs each test with
//! its CPU weight repacking on (`--repack 1`, its default) and off, and each row takes the
//! faster (named in the table): both engines at their best. On this machine (AVX-512 VNNI)
//! llama.cpp's Q4_K_M prefill is faster without repacking.

#[path = "common/mod.rs"]
mod common;

use common::median;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use realizar::format::gguf::Gguf;
use realizar::model::{Logits, Model};
use realizar::quant::Kernel;

const PROMPTS: [usize; 2] = [128, 512];
const GENERATE: usize = 32;
const REPS: usize = 3;

/// Token ids spread over the vocabulary, never the same twice in a row.
fn tokens(n: usize, vocab: usize) -> Vec<u32> {
    (0..n)
        .map(|i| (3 + (i * 7919) % (vocab - 3)) as u32)
        .collect()
}

/// realizar's prefill tokens/s for each of `PROMPTS`, and its decode tokens/s.
fn realizar_speeds(model: &Model) -> (Vec<f64>, f64) {
    let ctx = PROMPTS.iter().max().unwrap() + GENERATE;
    let pp = PROMPTS
        .iter()
        .map(|&n| {
            let prompt = tokens(n, model.config.vocab);
            median(
                (0..REPS)
                    .map(|_| {
                        let mut cache = model.new_cache(ctx);
                        let t = Instant::now();
                        model.forward(&mut cache, &prompt, Logits::Last).unwrap();
                        n as f64 / t.elapsed().as_secs_f64()
                    })
                    .collect(),
            )
        })
        .collect();
    let gen = tokens(GENERATE, model.config.vocab);
    let tg = median(
        (0..REPS)
            .map(|_| {
                let mut cache = model.new_cache(ctx);
                let t = Instant::now();
                for &tok in &gen {
                    model.forward(&mut cache, &[tok], Logits::Last).unwrap();
                }
                GENERATE as f64 / t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    (pp, tg)
}

/// One llama.cpp figure: tokens/s at its best of the two CPU repacking modes, and the mode.
#[derive(Clone, Copy)]
struct Llama {
    tps: f64,
    repack: bool,
}

/// llama-bench's prefill speed for each of `PROMPTS` and its decode speed, each the better of
/// `--repack 1` (its default: Q4_K and Q8_0 weights repacked at load into row-interleaved
/// copies for its GEMM kernels) and `--repack 0`, or the reason it could not run.
fn llama_speeds(bench: &Path, model: &Path, threads: usize) -> Result<(Vec<Llama>, Llama), String> {
    let prompts: Vec<String> = PROMPTS.iter().map(|p| p.to_string()).collect();
    let runs = llama_bench(
        bench,
        model,
        &[
            "-p",
            &prompts.join(","),
            "-n",
            &GENERATE.to_string(),
            "--repack",
            "0,1",
        ],
        threads,
    )?;
    let best = |prompt: u64, gen: u64| {
        runs.as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["n_prompt"].as_u64() == Some(prompt) && r["n_gen"].as_u64() == Some(gen))
            .filter_map(|r| {
                Some(Llama {
                    tps: r["avg_ts"].as_f64()?,
                    repack: r["repack"].as_bool()?,
                })
            })
            .max_by(|a, b| a.tps.total_cmp(&b.tps))
            .ok_or_else(|| format!("no pp{prompt} tg{gen} run in llama-bench's output"))
    };
    let pp = PROMPTS
        .iter()
        .map(|&p| best(p as u64, 0))
        .collect::<Result<_, _>>()?;
    Ok((pp, best(0, GENERATE as u64)?))
}

/// llama-bench's JSON runs for `args` on `model` at `threads`, or the reason it could not run.
fn llama_bench(
    bench: &Path,
    model: &Path,
    args: &[&str],
    threads: usize,
) -> Result<serde_json::Value, String> {
    let out = Command::new(bench)
        .args(["-m", &model.to_string_lossy()])
        .args(args)
        .args([
            "-t",
            &threads.to_string(),
            "-r",
            &REPS.to_string(),
            "-o",
            "json",
        ])
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .map_err(|e| format!("{}: {e}", bench.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("llama-bench output: {e}"))
}

/// Read bandwidth in bytes/s with `threads` threads: the best of three sums over 1 GiB of f32,
/// larger than any cache here, 32 independent sums per thread so loads, not adds, bound it.
fn read_bandwidth(threads: usize) -> f64 {
    const BYTES: usize = 1 << 30;
    let data: Vec<f32> = (0..BYTES / 4).map(|i| (i % 1024) as f32).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    (0..3)
        .map(|_| {
            let t = Instant::now();
            let sum = pool.install(|| common::read_all(&data));
            std::hint::black_box(sum);
            BYTES as f64 / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// The weight bytes one decode token reads: every tensor, except that the token embedding
/// contributes one row when a separate output matrix exists (else it is the LM head, read whole).
fn bytes_per_token(path: &Path) -> f64 {
    let file = Gguf::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tied = file.tensor("output.weight").is_none();
    file.tensors()
        .map(|t| match (t.info.name.as_str(), tied) {
            ("token_embd.weight", false) => t.info.size / t.info.dims.get(1).copied().unwrap_or(1),
            _ => t.info.size,
        })
        .sum::<u64>() as f64
}

fn anon_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("REALIZAR_E2E_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench-e2e"));
    // REALIZAR_E2E_LLAMA_BENCH points at another llama-bench, e.g. a GGML_NATIVE=ON build.
    let bench_path = std::env::var("REALIZAR_E2E_LLAMA_BENCH")
        .or_else(|_| std::fs::read_to_string(dir.join("llama-bench.path")));
    let Ok(bench_path) = bench_path else {
        eprintln!(
            "error: no benchmark models in {}; run `make bench-e2e` (it generates them first)",
            dir.display()
        );
        std::process::exit(2);
    };
    let llama_bench = PathBuf::from(bench_path.trim());
    let baseline = anon_rss_mb();
    let bandwidth = [read_bandwidth(1), read_bandwidth(2)];
    println!(
        "realizar vs llama.cpp ({}), TinyLlama-1.1B shapes, kernel {:?}; read bandwidth {:.1} GB/s \
         at 1 thread, {:.1} at 2",
        llama_bench.display(),
        Kernel::best(),
        bandwidth[0] * 1e-9,
        bandwidth[1] * 1e-9
    );
    println!(
        "| file | threads | test | realizar tok/s | llama.cpp tok/s | llama.cpp repack | ratio | \
         read-bandwidth ceiling tok/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut peak_extra: f64 = 0.0;
    let mut packed = Vec::new();
    for ty in ["Q4_K_M", "Q8_0"] {
        let path = dir.join(format!("tinyllama-shape-{ty}.gguf"));
        let per_token = bytes_per_token(&path);
        let mut model = Model::load(&path, Kernel::best())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        packed.push(format!(
            "{ty} {:.1} MB",
            model.weights.packed_bytes() as f64 / 1e6
        ));
        for threads in [1, 2] {
            model.set_threads(threads).unwrap();
            let (pp, tg) = realizar_speeds(&model);
            peak_extra = peak_extra.max(anon_rss_mb() - baseline);
            let llama = llama_speeds(&llama_bench, &path, threads);
            let (lpp, ltg) = match &llama {
                Ok((lpp, ltg)) => (lpp.iter().map(|v| Some(*v)).collect(), Some(*ltg)),
                Err(e) => {
                    println!(
                        "| {ty} | {threads} | llama-bench failed: {} | | | | | |",
                        e.trim()
                    );
                    (vec![None; PROMPTS.len()], None)
                }
            };
            let row = |test: String, ours: f64, theirs: Option<Llama>, ceiling: &str| match theirs {
                Some(l) => println!(
                    "| {ty} | {threads} | {test} | {ours:.1} | {:.1} | {} | {:.2}x | {ceiling} |",
                    l.tps,
                    if l.repack { "on" } else { "off" },
                    ours / l.tps
                ),
                None => println!("| {ty} | {threads} | {test} | {ours:.1} | | | | {ceiling} |"),
            };
            for ((p, ours), theirs) in PROMPTS.iter().zip(&pp).zip(lpp) {
                row(format!("pp{p}"), *ours, theirs, "");
            }
            let ceiling = format!("{:.1}", bandwidth[threads - 1] / per_token);
            row(format!("tg{GENERATE}"), tg, ltg, &ceiling);
        }
    }
    println!("realizar anonymous memory beyond the mapped file: {peak_extra:.1} MB at most");
    println!(
        "of which decode's weights packed at load (Q4_K, Q6_K and Q8_0 matrices on AVX-512): {}",
        packed.join(", ")
    );
}
