//! `oracle golden new NAME --hf DIR`: a golden set for a user's own HF checkpoint. The pinned
//! references run in golden/scripts/models.py (`new`), the same code that makes the committed
//! sets (`make golden-models`): HF transformers in float64 (float32 on request), the pinned
//! llama.cpp for conversion, quantization, batch and incremental logits and the eval-callback
//! trace of every file. The oracle only runs it (its progress bars go to the terminal), then
//! checks the set it wrote against its manifest, as `oracle golden check` does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::exit::{EXIT_OK, EXIT_VIOLATION};

/// What the user asked for, as `oracle golden new` parsed it.
pub struct Request<'a> {
    pub name: &'a str,
    pub hf: &'a Path,
    pub quant: &'a str,
    pub prompt: Option<&'a str>,
    pub tokens: Option<&'a str>,
    /// `f64` or `f32`: HF's precision.
    pub dtype: &'a str,
    /// Where the set's folder goes (golden/local by default: git-ignored, and where
    /// `oracle verify --set` looks after golden/models).
    pub out: &'a Path,
    pub force: bool,
    /// The repository root holding golden/scripts.
    pub root: &'a Path,
}

/// The script invocation for `req`, run from the repository root.
pub fn command(req: &Request) -> Result<Command, String> {
    let name_ok = !req.name.is_empty()
        && req
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !req.name.starts_with('.');
    if !name_ok {
        return Err(format!(
            "set name {:?}: use letters, digits, '-', '_' and '.' (it names a folder and the \
             set's files)",
            req.name
        ));
    }
    if req.prompt.is_some() && req.tokens.is_some() {
        return Err("--prompt and --tokens exclude each other".into());
    }
    let absolute = |p: &Path| -> Result<PathBuf, String> {
        std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))
    };
    let hf = absolute(req.hf)?;
    if !hf.join("config.json").is_file() {
        return Err(format!(
            "--hf {}: no config.json (an HF checkpoint directory is expected)",
            hf.display()
        ));
    }
    let script = req.root.join("golden/scripts/models.py");
    if !script.is_file() {
        return Err(format!(
            "{}: not found (--root is the realizar checkout)",
            script.display()
        ));
    }
    let mut cmd = Command::new("uv");
    cmd.current_dir(req.root)
        .args([
            "run",
            "--locked",
            "golden/scripts/models.py",
            "new",
            req.name,
        ])
        .arg("--hf")
        .arg(&hf)
        .args(["--quant", req.quant, "--dtype", req.dtype])
        .arg("--out")
        .arg(absolute(req.out)?);
    if let Some(p) = req.prompt {
        cmd.args(["--prompt", p]);
    }
    if let Some(t) = req.tokens {
        cmd.args(["--tokens", t]);
    }
    if req.force {
        cmd.arg("--force");
    }
    Ok(cmd)
}

/// Runs the references, then checks the new set against its manifest.
pub fn run(req: &Request, out: &mut dyn Write) -> Result<i32, String> {
    let mut cmd = command(req)?;
    let status = cmd.status().map_err(|e| {
        format!(
            "cannot run uv ({e}): the references run through uv (`python3 -m pip install uv`, or \
             `make uv`)"
        )
    })?;
    if !status.success() {
        return Err(format!(
            "golden/scripts/models.py new {} failed ({status}); its output above says why",
            req.name
        ));
    }
    let set = req.out.join(req.name);
    let report = crate::golden::check_set(req.root, &set);
    let _ = writeln!(
        out,
        "golden set {}: {} files, {:.1} MB, in {}",
        req.name,
        report.files,
        report.bytes as f64 / 1e6,
        set.display()
    );
    for p in &report.problems {
        let _ = writeln!(out, "      {p}");
    }
    if !report.problems.is_empty() {
        return Ok(EXIT_VIOLATION);
    }
    let _ = writeln!(
        out,
        "next: oracle verify --set {0}   (realizar)\n      oracle verify --set {0} --engine \
         'cmd:golden/.cache/llama-build/bin/llama-engine'   (llama.cpp; make engine-llamacpp)",
        req.name
    );
    Ok(EXIT_OK)
}
