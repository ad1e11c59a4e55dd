//! `oracle verify --set NAME`: the standard parity contracts over one golden set, committed
//! (golden/models/NAME) or a user's own (golden/local/NAME). What a set holds decides what is
//! checked: its f32 GGUF and HF directory against HF float64, each quantized file against
//! llama.cpp on the same file (batch and one token per call), the op-by-op trace where the HF
//! golden has one, and KV consistency and determinism on the f32 file. The contract is written
//! as YAML and loaded like any other, so it is validated the same way and can be read (its path
//! is printed on stderr).
//!
//! Thresholds are the committed contracts': relative L2 1e-5 against HF float64 (scale-free, as
//! PARITY-F32-HF holds its loudest model), KL mean per quantization label the loosest
//! PARITY-QUANT-LLAMACPP allows that label (a label it never names is refused), 1e-4 per op, 0 for
//! KV consistency and determinism.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::contract::{Check, Metric, Reference};
use crate::goldens::{Goldens, HF_F32, HF_F64};

/// The thresholds of the committed contracts this generator takes its quantized ones from.
const QUANT_CONTRACT: &str = "parity-quant-llamacpp.yaml";

/// The contract for set `name`, as YAML text.
pub fn contract(root: &Path, contracts: &Path, name: &str) -> Result<String, String> {
    let goldens = Goldens::of_repo(root);
    let dir = goldens.model_dir(name);
    let manifest = goldens.manifest(name).map_err(|f| {
        format!(
            "--set {name}: {f} (a set is a folder of golden/models or golden/local with a \
             manifest.json)"
        )
    })?;
    let files = manifest["files"]
        .as_object()
        .ok_or_else(|| format!("{}: manifest has no files", dir.display()))?;
    let has = |f: &str| files.contains_key(f);
    let Some(hf_reference) = [HF_F64, HF_F32].into_iter().find(|f| has(f)) else {
        return Err(format!(
            "--set {name}: neither {HF_F64} nor {HF_F32}: the set has no HF reference"
        ));
    };
    let quant = quant_thresholds(&contracts.join(QUANT_CONTRACT))?;
    let mut ob = String::new();
    let mut line = |id: &str, check: &str, params: String, metric: &str, threshold: f64| {
        let _ = writeln!(
            ob,
            "  - {{id: {id}, check: {check}, params: {{{params}}}, metric: {metric}, threshold: {threshold:e}}}"
        );
    };
    let f32 = has(&format!("{name}-F32.gguf"));
    if f32 {
        for mode in ["batch", "incremental"] {
            line(
                &format!("f32-gguf-{mode}"),
                "logits_parity",
                format!("model: {name}, file: F32, reference: hf_f64, mode: {mode}"),
                "rel_l2",
                1e-5,
            );
        }
    }
    let has_hf = files.keys().any(|f| f.starts_with("hf/"));
    if has_hf {
        line(
            "hf-dir",
            "logits_parity",
            format!("model: {name}, file: hf, reference: hf_f64, mode: batch"),
            "rel_l2",
            1e-5,
        );
    }
    let mut labels: Vec<&str> = files
        .keys()
        .filter_map(|f| f.strip_prefix(&format!("{name}-"))?.strip_suffix(".gguf"))
        .filter(|l| *l != "F32")
        .collect();
    labels.sort_unstable();
    for label in &labels {
        if !has(&format!("llamacpp_{label}.safetensors")) {
            return Err(format!(
                "--set {name}: {name}-{label}.gguf has no llama.cpp golden \
                 (llamacpp_{label}.safetensors)"
            ));
        }
        let threshold = quant
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                format!(
                    "--set {name}: {label}: contracts/{QUANT_CONTRACT} sets no threshold for this \
                 quantization, so none is assumed"
                )
            })?;
        for mode in ["batch", "incremental"] {
            line(
                &format!("{}-{mode}", label.to_lowercase()),
                "logits_parity",
                format!("model: {name}, file: {label}, reference: llamacpp, mode: {mode}"),
                "kl_mean",
                threshold,
            );
        }
    }
    let hf_tensors = &files[hf_reference]["tensors"];
    let traced = hf_tensors.get("layers.0.attn_norm").is_some();
    // The trace runs the file HF's pass is the same model as: the f32 GGUF, unless HF ran
    // something a GGUF cannot carry (Mistral's sliding window: the golden then also holds the
    // logits without it, which the GGUF obligations above are compared with).
    let same_as_hf = hf_tensors.get("logits_no_sliding_window").is_none();
    let trace_file = match (f32 && same_as_hf, has_hf) {
        (true, _) => Some("F32"),
        (false, true) => Some("hf"),
        (false, false) => None,
    }
    .filter(|_| traced);
    let main = if f32 {
        "F32"
    } else {
        labels.first().copied().unwrap_or("hf")
    };
    if let Some(file) = trace_file {
        line(
            "trace",
            "trace_parity",
            format!("model: {name}, file: {file}"),
            "rel_l2",
            1e-4,
        );
    }
    line(
        "kv",
        "kv_consistency",
        format!("model: {name}, file: {main}"),
        "max_abs",
        0.0,
    );
    line(
        "same-twice",
        "determinism",
        format!("model: {name}, file: {main}"),
        "mismatches",
        0.0,
    );
    let mut falsification = String::from(
        "  - {perturb: swap_positions, expect: violated}\n  - {perturb: shift_position, expect: \
         violated}\n  - {perturb: leak_between_calls, expect: violated}\n",
    );
    if trace_file.is_some() {
        falsification.push_str("  - {perturb: scale_traced_layer, expect: violated}\n");
    }
    let id = format!("SET-{}", name.to_uppercase());
    Ok(format!(
        "# Written by `oracle verify --set {name}` from {}/manifest.json.\n\
         schema: 1\n\
         id: {id}\n\
         title: The standard parity contracts over the golden set {name}\n\
         description: >\n  Generated from what the set holds (oracle/src/set.rs); thresholds from the committed contracts.\n\
         rationale: >\n  A user's checkpoint gets the same contracts as the reference models.\n\
         tickets: [\"T-19\"]\n\
         obligations:\n{ob}\
         falsification:\n{falsification}\
         bindings:\n  functions: [\"realizar::model::Model::forward\"]\n  tests: [\"tests/oracle_contracts.rs::verify_set_runs_the_standard_contracts_over_one_golden_set\"]\n",
        dir.display()
    ))
}

/// The loosest KL-mean threshold the committed quantized-parity contract gives each label.
fn quant_thresholds(path: &Path) -> Result<Vec<(String, f64)>, String> {
    let c = crate::contract::load_file(path).map_err(|e| e.to_string())?;
    let mut out: Vec<(String, f64)> = Vec::new();
    for o in &c.obligations {
        if let Check::LogitsParity(p) = &o.check {
            if p.reference == Reference::Llamacpp && o.metric == Metric::KlMean {
                match out.iter_mut().find(|(l, _)| *l == p.file) {
                    Some((_, t)) => *t = t.max(o.threshold),
                    None => out.push((p.file.clone(), o.threshold)),
                }
            }
        }
    }
    Ok(out)
}

/// Writes set `name`'s contract into a fresh folder and returns the folder.
pub fn write(root: &Path, contracts: &Path, name: &str) -> Result<PathBuf, String> {
    let text = contract(root, contracts, name)?;
    let dir = std::env::temp_dir().join(format!("oracle-set-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join(format!("set-{name}.yaml"));
    std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(dir)
}
