//! realizar's tokenizer against llama.cpp's on the same vocabulary files and the same text, in
//! one run: for every real vocabulary in golden/vocab, the load time and the encode throughput
//! of each, with the ratio, and whether the ids agree.
//!
//! ```sh
//! make bench-tokenize   # builds llama-tokenize-bench against the pinned libllama if needed
//! ```
//!
//! The text is the vocabulary's own test strings (llama.cpp's .inp: many languages, code,
//! emoji, whitespace runs), joined by newlines and repeated to at least 1 MiB. Both sides are
//! timed in process, special tokens neither added nor parsed: llama.cpp by
//! golden/scripts/llama_tokenize_bench.cpp (vocab-only load, then `llama_tokenize` on the whole
//! text), realizar by `Tokenizer::open`, then `encode(text, false, false)`. Each encode figure is
//! the median of three.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use realizar::tokenizer::Tokenizer;

const REPS: usize = 3;
const TEXT_BYTES: usize = 1024 * 1024;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = None;
    let secs = median(
        (0..REPS)
            .map(|_| {
                let t = Instant::now();
                out = Some(f());
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    (secs, out.expect("REPS > 0"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The .inp strings of a vocabulary, joined and repeated to about TEXT_BYTES.
fn text(inp: &Path) -> Option<String> {
    let raw = std::fs::read_to_string(inp).ok()?;
    let strings: Vec<&str> = raw.split("\n__ggml_vocab_test__\n").collect();
    let once = strings.join("\n");
    if once.is_empty() {
        return None;
    }
    Some(once.repeat(TEXT_BYTES.div_ceil(once.len())))
}

/// llama.cpp's load and median encode seconds and its ids, from llama-tokenize-bench.
fn llama(
    exe: &Path,
    vocab: &Path,
    text: &Path,
    ids: &Path,
) -> Result<(f64, f64, Vec<u32>), String> {
    let out = Command::new(exe)
        .arg(vocab)
        .arg(text)
        .arg(REPS.to_string())
        .arg(ids)
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("its output: {e}"))?;
    let secs = |k: &str| v[k].as_f64().ok_or(format!("no {k} in its output"));
    let ids = std::fs::read_to_string(ids)
        .map_err(|e| e.to_string())?
        .split_whitespace()
        .map(|t| t.parse().map_err(|e| format!("id {t:?}: {e}")))
        .collect::<Result<_, String>>()?;
    Ok((secs("load_s")?, secs("encode_s")?, ids))
}

fn main() {
    let exe = std::env::var_os("REALIZAR_LLAMA_TOKENIZE_BENCH").map_or_else(
        || root().join("golden/.cache/llama-build/bin/llama-tokenize-bench"),
        PathBuf::from,
    );
    if !exe.is_file() {
        eprintln!(
            "no {}: run `make bench-tokenize` (it builds it against the pinned libllama) or set \
             REALIZAR_LLAMA_TOKENIZE_BENCH",
            exe.display()
        );
        std::process::exit(1);
    }
    let scratch =
        std::env::temp_dir().join(format!("realizar-bench-tokenize-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let mut names: Vec<String> = std::fs::read_dir(root().join("golden/vocab"))
        .expect("golden/vocab")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    println!(
        "| vocabulary | text KB | load ms realizar / llama.cpp | encode MB/s realizar / llama.cpp | ratio | same ids |"
    );
    println!("|---|---|---|---|---|---|");
    let mut failed = false;
    for name in names {
        let dir = root().join("golden/vocab").join(&name);
        let vocab = dir.join(format!("ggml-vocab-{name}.gguf"));
        let Some(text) = text(&dir.join(format!("ggml-vocab-{name}.gguf.inp"))) else {
            println!("| {name} | no test strings | | | | |");
            continue;
        };
        let file = scratch.join(format!("{name}.txt"));
        std::fs::write(&file, &text).expect("scratch file");
        let (load, tok) = time(|| Tokenizer::open(&vocab));
        let tok = match tok {
            Ok(t) => t,
            Err(e) => {
                println!("| {name} | refused: {e} | | | | |");
                failed = true;
                continue;
            }
        };
        let (encode, ours) = time(|| tok.encode(&text, false, false));
        let (their_load, their_encode, theirs) =
            match llama(&exe, &vocab, &file, &scratch.join("ids.txt")) {
                Ok(r) => r,
                Err(e) => {
                    println!("| {name} | llama.cpp failed: {e} | | | | |");
                    failed = true;
                    continue;
                }
            };
        let mb = text.len() as f64 / 1e6;
        let same = theirs == ours;
        failed |= !same;
        let (theirs_mbs, ratio) = (
            format!("{:.2}", mb / their_encode),
            format!("{:.2}x", their_encode / encode),
        );
        println!(
            "| {name} | {} | {:.0} / {:.0} | {:.2} / {theirs_mbs} | {ratio} | {} |",
            text.len() / 1024,
            load * 1e3,
            their_load * 1e3,
            mb / encode,
            if same { "yes" } else { "NO" }
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("ratio: llama.cpp's encode time over realizar's (above 1: realizar is faster)");
    if failed {
        std::process::exit(1);
    }
}
