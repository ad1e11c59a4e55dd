//! realizar against llama.cpp on the same GGUF files, in one run: prefill (128 tokens in one
//! batch) and decode (32 tokens, one per call) tokens/s at 1 and 2 threads, with the ratio, and
//! realizar's anonymous memory (everything but the mapped file).
//!
//! ```sh
//! make bench-e2e    # generates the TinyLlama-shaped model, quantizes it, then runs this
//! ```
//!
//! llama.cpp is timed with `llama-bench -p 128 -n 32 -r 3` and `OMP_WAIT_POLICY=PASSIVE` (its
//! OpenMP threads otherwise spin and collapse on a busy 2-core machine). Both engines take the
//! median of three repetitions; llama-bench reports its mean. The llama-bench is the golden
//! pipeline's portable x86-64-v3 build unless `REALIZAR_E2E_LLAMA_BENCH` names another.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use realizar::model::{Logits, Model};
use realizar::quant::Kernel;

const PROMPT: usize = 128;
const GENERATE: usize = 32;
const REPS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Token ids spread over the vocabulary, never the same twice in a row.
fn tokens(n: usize, vocab: usize) -> Vec<u32> {
    (0..n)
        .map(|i| (3 + (i * 7919) % (vocab - 3)) as u32)
        .collect()
}

fn realizar_speeds(model: &Model) -> (f64, f64) {
    let prompt = tokens(PROMPT, model.config.vocab);
    let pp = median(
        (0..REPS)
            .map(|_| {
                let mut cache = model.new_cache(PROMPT + GENERATE);
                let t = Instant::now();
                model.forward(&mut cache, &prompt, Logits::Last).unwrap();
                PROMPT as f64 / t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let gen = tokens(GENERATE, model.config.vocab);
    let tg = median(
        (0..REPS)
            .map(|_| {
                let mut cache = model.new_cache(PROMPT + GENERATE);
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

/// llama-bench's (prefill, decode) tokens/s, or the reason it could not run.
fn llama_speeds(bench: &Path, model: &Path, threads: usize) -> Result<(f64, f64), String> {
    let out = Command::new(bench)
        .args(["-m", &model.to_string_lossy()])
        .args(["-p", &PROMPT.to_string(), "-n", &GENERATE.to_string()])
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
    let runs: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("llama-bench output: {e}"))?;
    let speed = |key: &str| {
        runs.as_array()
            .and_then(|a| a.iter().find(|r| r[key].as_u64().unwrap_or(0) > 0))
            .and_then(|r| r["avg_ts"].as_f64())
            .ok_or_else(|| format!("no {key} run in llama-bench's output"))
    };
    Ok((speed("n_prompt")?, speed("n_gen")?))
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
    println!(
        "realizar vs llama.cpp, TinyLlama-1.1B shapes, kernel {:?}; prefill {PROMPT} tokens, decode {GENERATE}",
        Kernel::best()
    );
    println!(
        "| file | threads | realizar prefill tok/s | llama.cpp prefill | ratio | realizar decode tok/s | llama.cpp decode | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut peak_extra: f64 = 0.0;
    for ty in ["Q4_K_M", "Q8_0"] {
        let path = dir.join(format!("tinyllama-shape-{ty}.gguf"));
        let mut model = Model::load(&path, Kernel::best())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for threads in [1, 2] {
            model.set_threads(threads).unwrap();
            let (pp, tg) = realizar_speeds(&model);
            peak_extra = peak_extra.max(anon_rss_mb() - baseline);
            match llama_speeds(&llama_bench, &path, threads) {
                Ok((lpp, ltg)) => println!(
                    "| {ty} | {threads} | {pp:.1} | {lpp:.1} | {:.2}x | {tg:.1} | {ltg:.1} | {:.2}x |",
                    pp / lpp,
                    tg / ltg
                ),
                Err(e) => println!("| {ty} | {threads} | {pp:.1} | error | | {tg:.1} | error: {e} | |"),
            }
        }
    }
    println!("realizar anonymous memory beyond the mapped file: {peak_extra:.1} MB at most");
}
