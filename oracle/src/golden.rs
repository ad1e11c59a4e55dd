//! Golden-set integrity: every `manifest.json` under `golden/` against the files beside it.
//!
//! A golden set is a folder with a `manifest.json` written by a script in `golden/scripts/`. The
//! check holds each set to its manifest: every listed file exists with its size and sha256, every
//! safetensors file holds exactly the listed tensors with their dtypes and shapes (read with the
//! `safetensors` crate, not the engine's reader), no unlisted file sits in the set, and the
//! generating script still has the sha256 the manifest recorded, so a script edited without
//! regenerating its goldens is caught.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// One thing wrong with a golden set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file concerned, relative to the repository root.
    pub path: String,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.what)
    }
}

/// The verdict on one golden set.
#[derive(Debug, Clone)]
pub struct SetReport {
    /// The set's folder, relative to the repository root.
    pub set: String,
    /// Files that matched the manifest in every respect.
    pub files: usize,
    pub bytes: u64,
    pub problems: Vec<Problem>,
}

/// Every reference model `make golden-models` writes into golden/models, one per family and
/// shape class. Tests, checks and examples iterate this list rather than their own.
pub const REFERENCE_MODELS: [&str; 13] = [
    "tiny-gqa",
    "tiny-long",
    "tiny-mha-tied",
    "tiny-llama3",
    "tiny-qwen2",
    "tiny-qwen3",
    "tiny-mistral",
    "tiny-loud",
    "tiny-phi3",
    "tiny-gemma2",
    "tiny-gemma3",
    "tiny-yarn",
    "tiny-phi3-long",
];

/// One tokenizer test vector: a string and llama.cpp's ids for it.
pub type VocabCase = (String, Vec<u32>);

/// llama.cpp's tokenizer test vectors for vocabulary `name` (golden/vocab/<name>, copied from
/// the pinned sdist): the vocab-only GGUF's path, and each `.inp` string with its `.out` ids, read
/// as llama.cpp's test-tokenizer-0 reads them (strings end at each separator; a last piece
/// without one counts too).
pub fn vocab_vectors(root: &Path, name: &str) -> Result<(PathBuf, Vec<VocabCase>), String> {
    let goldens = crate::goldens::Goldens::of_repo(root);
    let gguf = goldens.vocab_gguf(name);
    let read = |ext: &str| {
        let path = goldens.vocab_vectors(name, ext);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let (inp, out) = (read("inp")?, read("out")?);
    let sep = "\n__ggml_vocab_test__\n";
    let mut strings = Vec::new();
    let mut rest = inp.as_str();
    while !rest.is_empty() {
        let at = rest.find(sep).unwrap_or(rest.len());
        strings.push(rest[..at].to_string());
        rest = rest.get(at + sep.len()..).unwrap_or("");
    }
    let ids = out
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|t| t.parse().map_err(|e| format!("{name}.out: {t:?}: {e}")))
                .collect::<Result<Vec<u32>, String>>()
        })
        .collect::<Result<Vec<_>, String>>()?;
    if strings.len() != ids.len() {
        return Err(format!(
            "{name}: {} strings in .inp, {} lines in .out",
            strings.len(),
            ids.len()
        ));
    }
    Ok((gguf, strings.into_iter().zip(ids).collect()))
}

/// The HF float64 logits a model file is held to. A GGUF file of a sliding-window model carries
/// no window (the pinned converter writes none, and llama.cpp runs full attention), so its truth
/// is HF run without the window; the HF directory keeps the window.
pub fn hf_logits_tensor(model: &str, file: &str) -> &'static str {
    if model == "tiny-mistral" && file != "hf" {
        "logits_no_sliding_window"
    } else {
        "logits"
    }
}

/// Every folder under `golden` holding a `manifest.json`, sorted. The git-ignored `.cache`
/// (built tools, downloads) is skipped.
pub fn find_sets(golden: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut sets = Vec::new();
    let mut stack = vec![golden.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("manifest.json").is_file() {
            sets.push(dir.clone());
        }
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() && path.file_name().is_none_or(|n| n != ".cache") {
                stack.push(path);
            }
        }
    }
    sets.sort();
    Ok(sets)
}

/// Checks one set against its manifest. `root` is the repository root: manifest commands name
/// their scripts relative to it.
pub fn check_set(root: &Path, set: &Path) -> SetReport {
    let mut problems = Vec::new();
    let (files, bytes) = check_into(root, set, &mut |path: &Path, what: String| {
        problems.push(Problem {
            path: relative(root, path),
            what,
        })
    });
    SetReport {
        set: relative(root, set),
        files,
        bytes,
        problems,
    }
}

/// The files checked and their total size; every problem goes to `problem`.
fn check_into(root: &Path, set: &Path, problem: &mut dyn FnMut(&Path, String)) -> (usize, u64) {
    let (mut files_ok, mut bytes) = (0, 0);
    let manifest_path = set.join("manifest.json");
    let manifest: Value = match std::fs::read(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            problem(&manifest_path, format!("unreadable manifest: {e}"));
            return (0, 0);
        }
    };
    for (key, script, want) in provenance_scripts(&manifest) {
        match std::fs::read(root.join(&script)) {
            Ok(bytes) if sha256_hex(&bytes) == want => {}
            Ok(_) => problem(
                &manifest_path,
                format!(
                    "{script} changed since these goldens were made ({key} {}); regenerate them \
                     with `{}`",
                    short(&want),
                    manifest["command"].as_str().unwrap_or("make golden")
                ),
            ),
            Err(e) => problem(&manifest_path, format!("cannot read {script}: {e}")),
        }
    }
    let Some(files) = manifest["files"].as_object() else {
        problem(&manifest_path, "no \"files\" object".into());
        return (0, 0);
    };
    let on_disk = match list_files(set) {
        Ok(found) => found,
        Err(e) => {
            problem(set, format!("cannot list: {e}"));
            return (0, 0);
        }
    };
    for name in on_disk.keys() {
        if name != "manifest.json" && !files.contains_key(name) {
            problem(&set.join(name), "not listed in manifest.json".into());
        }
    }
    for (name, entry) in files {
        let path = set.join(name);
        let Some(&size) = on_disk.get(name) else {
            problem(&path, "listed in manifest.json but missing".into());
            continue;
        };
        if let Some(want) = entry["bytes"].as_u64() {
            if want != size {
                problem(&path, format!("{size} bytes, manifest says {want}"));
                continue;
            }
        }
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                problem(&path, format!("unreadable: {e}"));
                continue;
            }
        };
        let digest = sha256_hex(&data);
        let want = entry["sha256"].as_str().unwrap_or_default();
        if digest != want {
            problem(
                &path,
                format!(
                    "sha256 {} but manifest says {}",
                    short(&digest),
                    short(want)
                ),
            );
            continue;
        }
        let mismatches = match entry["tensors"].as_object() {
            Some(tensors) => safetensors_mismatches(&data, tensors),
            None => Vec::new(),
        };
        if mismatches.is_empty() {
            files_ok += 1;
            bytes += size;
        }
        // A wholesale mismatch (a regenerated file, a renamed convention) reads better summarised.
        const SHOWN: usize = 5;
        for what in mismatches.iter().take(SHOWN) {
            problem(&path, what.clone());
        }
        if mismatches.len() > SHOWN {
            problem(
                &path,
                format!("and {} more tensor mismatches", mismatches.len() - SHOWN),
            );
        }
    }
    (files_ok, bytes)
}

fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// The files a manifest's provenance names, as (manifest key, path from the root, sha256 it
/// recorded): the script its `command` runs, the shared llama.cpp helper where the manifest
/// records its hash, and every file of its `sources` map (path to sha256), such as a C program
/// the script compiles.
fn provenance_scripts(manifest: &Value) -> Vec<(&'static str, String, String)> {
    let Some(script) = manifest["command"]
        .as_str()
        .and_then(|c| c.split_whitespace().find(|w| w.ends_with(".py")))
    else {
        return Vec::new();
    };
    let recorded = |key: &str| manifest[key].as_str().unwrap_or_default().to_string();
    let mut out = Vec::new();
    if manifest.get("script_sha256").is_some() {
        out.push((
            "script_sha256",
            script.to_string(),
            recorded("script_sha256"),
        ));
    }
    if manifest.get("helper_sha256").is_some() {
        let helper = Path::new(script).with_file_name("llamacpp.py");
        let helper = helper.to_string_lossy().into_owned();
        out.push(("helper_sha256", helper, recorded("helper_sha256")));
    }
    for (path, sha) in manifest["sources"].as_object().into_iter().flatten() {
        let sha = sha.as_str().unwrap_or_default().to_string();
        out.push(("sources", path.clone(), sha));
    }
    out
}

/// What differs between a safetensors file and the tensors its manifest entry lists.
fn safetensors_mismatches(data: &[u8], listed: &serde_json::Map<String, Value>) -> Vec<String> {
    let file = match safetensors::SafeTensors::deserialize(data) {
        Ok(f) => f,
        Err(e) => return vec![format!("not a valid safetensors file: {e}")],
    };
    let actual: BTreeMap<String, (String, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, (numpy_dtype(view.dtype()), view.shape().to_vec())))
        .collect();
    let mut out = Vec::new();
    for name in actual.keys() {
        if !listed.contains_key(name) {
            out.push(format!("tensor {name} is not in the manifest"));
        }
    }
    for (name, want) in listed {
        let Some((dtype, shape)) = actual.get(name) else {
            out.push(format!("tensor {name} listed in the manifest is missing"));
            continue;
        };
        let want_dtype = want["dtype"].as_str().unwrap_or_default();
        let want_shape: Vec<usize> = want["shape"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_u64())
                    .map(|d| d as usize)
                    .collect()
            })
            .unwrap_or_default();
        if dtype != want_dtype || *shape != want_shape {
            out.push(format!(
                "tensor {name} is {dtype} {shape:?}, manifest says {want_dtype} {want_shape:?}"
            ));
        }
    }
    out
}

/// The dtype names the golden scripts record (numpy's).
fn numpy_dtype(d: safetensors::Dtype) -> String {
    use safetensors::Dtype::*;
    match d {
        BOOL => "bool",
        U8 => "uint8",
        I8 => "int8",
        U16 => "uint16",
        I16 => "int16",
        F16 => "float16",
        BF16 => "bfloat16",
        U32 => "uint32",
        I32 => "int32",
        F32 => "float32",
        U64 => "uint64",
        I64 => "int64",
        F64 => "float64",
        other => return format!("{other:?}").to_lowercase(),
    }
    .to_string()
}

/// Every regular file under `dir`, as a path relative to it (with `/`) and its size.
fn list_files(dir: &Path) -> std::io::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(name, meta.len());
            }
        }
    }
    Ok(out)
}

pub fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

fn short(hex: &str) -> &str {
    &hex[..hex.len().min(12)]
}

/// `oracle golden check`: every golden set under `dir` against its manifest, as a table or
/// JSON. Returns the exit code.
pub fn check_command(dir: &Path, json: bool, out: &mut dyn std::io::Write) -> Result<i32, String> {
    let sets =
        find_sets(dir).map_err(|e| format!("cannot read golden folder {}: {e}", dir.display()))?;
    if sets.is_empty() {
        return Err(format!("no manifest.json under {}", dir.display()));
    }
    let root = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let reports: Vec<_> = sets.iter().map(|s| check_set(root, s)).collect();
    let problems: usize = reports.iter().map(|r| r.problems.len()).sum();
    if json {
        let sets: Vec<_> = reports
            .iter()
            .map(|r| {
                let problems: Vec<_> = r
                    .problems
                    .iter()
                    .map(|p| serde_json::json!({"path": p.path, "problem": p.what}))
                    .collect();
                serde_json::json!({"set": r.set, "files_ok": r.files, "bytes": r.bytes, "problems": problems})
            })
            .collect();
        let summary = serde_json::json!({"ok": problems == 0, "problems": problems, "sets": sets});
        let _ = writeln!(out, "{summary}");
    } else {
        for r in &reports {
            let verdict = if r.problems.is_empty() {
                "ok  "
            } else {
                "FAIL"
            };
            let mb = r.bytes as f64 / 1e6;
            let _ = writeln!(
                out,
                "{verdict}  {:<32} {:>3} files  {mb:>6.1} MB",
                r.set, r.files
            );
            for p in &r.problems {
                let _ = writeln!(out, "      {p}");
            }
        }
        let files: usize = reports.iter().map(|r| r.files).sum();
        let mb = reports.iter().map(|r| r.bytes).sum::<u64>() as f64 / 1e6;
        let _ = if problems == 0 {
            let n = reports.len();
            writeln!(
                out,
                "golden check: {n} sets, {files} files ({mb:.1} MB) match their manifests"
            )
        } else {
            writeln!(out, "golden check: {problems} problems; see above")
        };
    }
    Ok(if problems == 0 {
        crate::exit::EXIT_OK
    } else {
        crate::exit::EXIT_VIOLATION
    })
}
