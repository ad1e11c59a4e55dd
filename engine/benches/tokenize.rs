//! realizar's tokenizer against llama.cpp's on the same vocabulary files and the same text, in
//! one run: for every real vocabulary in golden/vocab, the load time and the encode throughput
//! of each, with the ratio, and whether the ids agree.
//!
//! ```sh
//! make bench-tokenize   # builds llama.cpp's llama-tokenize from the pinned sdist if needed
//! ```
//!
//! The text is the vocabulary's own test strings (llama.cpp's .inp), joined by newlines and
//! repeated to about 256 KB. llama.cpp is timed as a process (`llama-tokenize -f TEXT --ids
//! --no-bos`, special tokens not parsed): its encode time is the run on the text minus a run
//! on one character, which is its load time. realizar is timed in process:
//! `Tokenizer::open`, then `encode(text, false, false)`. Each figure is the median of three.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use realizar::tokenizer::Tokenizer;

const REPS: usize = 3;
const TEXT_BYTES: usize = 256 * 1024;

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

/// llama-tokenize's ids for the file at `text` (its `--ids` output is a Python list).
fn llama_ids(exe: &Path, vocab: &Path, text: &Path) -> Option<Vec<u32>> {
    let out = Command::new(exe)
        .args(["-m"])
        .arg(vocab)
        .arg("-f")
        .arg(text)
        .args(["--ids", "--log-disable", "--no-bos"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout);
    let list = s.trim().trim_start_matches('[').trim_end_matches(']');
    list.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.trim().parse().ok())
        .collect()
}

fn main() {
    let exe = std::env::var_os("REALIZAR_LLAMA_TOKENIZE").map_or_else(
        || root().join("golden/.cache/llama-build/bin/llama-tokenize"),
        PathBuf::from,
    );
    if !exe.is_file() {
        eprintln!(
            "no {}: run `make bench-tokenize` (it builds llama.cpp's tools) or set REALIZAR_LLAMA_TOKENIZE",
            exe.display()
        );
        std::process::exit(1);
    }
    let scratch =
        std::env::temp_dir().join(format!("realizar-bench-tokenize-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let tiny = scratch.join("tiny.txt");
    std::fs::write(&tiny, "a").expect("scratch file");
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
        let (their_load, _) = time(|| llama_ids(&exe, &vocab, &tiny));
        let (their_total, theirs) = time(|| llama_ids(&exe, &vocab, &file));
        let mb = text.len() as f64 / 1e6;
        let same = theirs.as_ref() == Some(&ours);
        failed |= !same;
        // Where llama.cpp's encode time is lost in the noise of its load, say so.
        let their_encode = their_total - their_load;
        let (theirs_mbs, ratio) = if their_encode > 0.1 * their_load {
            (
                format!("{:.2}", mb / their_encode),
                format!("{:.2}x", their_encode / encode),
            )
        } else {
            ("below load noise".into(), "-".into())
        };
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
    println!("ratio: llama.cpp's encode time over realizar's (above 1: realizar is faster); llama.cpp's load time is its run on one character");
    if failed {
        std::process::exit(1);
    }
}
