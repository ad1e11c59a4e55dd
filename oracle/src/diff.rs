//! `oracle diff`: an engine's forward pass against a golden set, op by op: L2 norms, relative
//! error, per-token cosine, and the first op whose error crosses the tolerance.

use std::fmt::Write;
use std::path::Path;

use realizar::backend::{BackendKind, Forward, Runtime};
use realizar::model::Trace;
use realizar::quant::Kernel;

use crate::checks::trace_parity::{describe, pair, Against, Step};
use crate::checks::Ctx;
use crate::metrics::{cosine_min, l2, rel_l2};

#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    pub op: String,
    pub reference: String,
    /// The tolerance this op is held to: the diff's, or where the reference is llama.cpp's
    /// golden trace of the same quantized file, its own spread at that op times SPREAD_FACTOR
    /// if that is larger.
    pub tolerance: f64,
    pub l2_ours: f64,
    pub l2_reference: f64,
    pub rel_l2: f64,
    pub cosine_min: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Diff {
    pub model: String,
    /// Where the pass ran: `kernel: avx512` on the CPU, `gpu: <adapter>`.
    pub device: String,
    pub golden: String,
    pub tolerance: f64,
    /// The engine whose pass on the same file is the reference, instead of the golden set's
    /// references (whose tokens are still the input).
    pub against: Option<String>,
    pub rows: Vec<Row>,
    /// Index into rows of the first op above its tolerance.
    pub first_divergence: Option<usize>,
    /// Ops the engine traced that the reference has no tensor for (llama.cpp's graph leaves
    /// some unnamed), so not compared.
    pub unmatched: Vec<String>,
}

/// Where `oracle diff` takes a traced pass from.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// realizar in-process, on a backend (the CPU's best kernel, or the GPU; a backend that
    /// cannot start is an error, never a fallback).
    Realizar(BackendKind),
    /// Any engine, through the protocol's trace request.
    Engine(&'a dyn crate::engine::Engine),
}

/// The trace of `tokens` through the model at `model_path`, and where it ran.
fn trace_of(source: Source, model_path: &Path, tokens: &[u32]) -> Result<(Trace, String), String> {
    match source {
        Source::Realizar(backend) => {
            let engine = Runtime::load(model_path, Kernel::best(), backend)
                .map_err(|e| format!("{} on the {}: {e}", model_path.display(), backend.name()))?;
            let trace = engine
                .trace_batch(tokens)
                .map_err(|e| format!("{}: {e}", model_path.display()))?;
            Ok((trace, engine.device()))
        }
        Source::Engine(e) => {
            let traced = e
                .trace(model_path, tokens, None)
                .map_err(|f| f.to_string())?;
            Ok((traced.trace, traced.detail))
        }
    }
}

/// `oracle diff`: the pass of `source` over the model at `model_path`, op by op, against the
/// golden set's references or, with `against`, against that engine's pass over the same file
/// (like with like: a quantized file against llama.cpp's own run of it).
pub fn diff(
    root: &Path,
    model_path: &Path,
    source: Source,
    against: Option<&dyn crate::engine::Engine>,
    golden: &str,
    tolerance: f64,
) -> Result<Diff, String> {
    let ctx = Ctx::new(root);
    let tokens = ctx.goldens.tokens(golden).map_err(|f| f.to_string())?;
    let (trace, device) = trace_of(source, model_path, &tokens)?;
    let theirs = match against {
        Some(other) => Some(trace_of(Source::Engine(other), model_path, &tokens)?),
        None => None,
    };
    // A quantized file of the set is compared with llama.cpp's run of the same file, not with
    // HF's pass of the unquantized model: quantization error is not a bug.
    let quantized = match (&theirs, quantized_label(&ctx, golden, model_path)) {
        (None, Some(label)) => Some(crate::golden_trace::read(&ctx.goldens, golden, &label)?),
        _ => None,
    };
    let reference = match (&theirs, &quantized) {
        (Some((t, detail)), _) => Against::Trace(t, detail),
        (None, Some(g)) => Against::GoldenTrace(&g.trace, &g.source),
        (None, None) => Against::Goldens,
    };
    let steps = pair(&trace, reference, &ctx, golden).map_err(|f| f.to_string())?;
    let shown = model_path.display().to_string();
    let mut d = of_steps(steps, (&shown, &device), golden, tolerance);
    if let Some(g) = &quantized {
        for r in &mut d.rows {
            if let Some(s) = g.spread.get(&r.op) {
                r.tolerance = r.tolerance.max(SPREAD_FACTOR * s);
            }
        }
        d.first_divergence = first_divergence(&d.rows);
        d.unmatched = trace
            .tensors
            .keys()
            .filter(|k| !g.trace.tensors.contains_key(*k))
            .cloned()
            .collect();
        d.against = Some(g.source.clone());
    } else {
        d.against = theirs.map(|(_, detail)| detail);
    }
    Ok(d)
}

/// How far past llama.cpp's own batch-vs-incremental spread at an op another engine may be on a
/// quantized file. Their difference at an op comes from the same source as the spread: float
/// sums in another order, which flip a few roundings where activations are quantized for the
/// next matrix product; a different engine's order differs more than one engine's two modes.
pub const SPREAD_FACTOR: f64 = 4.0;

/// The label of `model_path` when it is one of set `golden`'s quantized GGUF files
/// (`<set>-<LABEL>.gguf` in its folder, LABEL not F32).
fn quantized_label(ctx: &Ctx, golden: &str, model_path: &Path) -> Option<String> {
    let name = model_path.file_name()?.to_str()?;
    let label = name
        .strip_prefix(&format!("{golden}-"))?
        .strip_suffix(".gguf")?;
    let same = ctx.goldens.model_file(golden, label);
    let same_file = std::fs::canonicalize(&same).ok()? == std::fs::canonicalize(model_path).ok()?;
    (label != "F32" && same_file).then(|| label.to_string())
}

/// The first row above its tolerance; a NaN error (a non-finite activation) diverges too.
fn first_divergence(rows: &[Row]) -> Option<usize> {
    rows.iter()
        .position(|r| r.rel_l2.is_nan() || r.rel_l2 > r.tolerance)
}

/// A traced pass's ops against a golden set, op by op: what `oracle diff` prints and what
/// TRACE-PARITY measures (and the report plots) in one computation.
pub fn of_steps(
    steps: Vec<Step>,
    (shown, device): (&str, &str),
    golden: &str,
    tolerance: f64,
) -> Diff {
    let rows: Vec<Row> = steps
        .into_iter()
        .map(|s| Row {
            rel_l2: rel_l2(&s.reference, &s.ours),
            cosine_min: cosine_min(&s.reference, &s.ours, s.cols),
            l2_ours: l2(&s.ours),
            l2_reference: l2(&s.reference),
            op: s.name,
            reference: s.source,
            tolerance,
        })
        .collect();
    let first_divergence = first_divergence(&rows);
    Diff {
        model: shown.to_string(),
        device: device.to_string(),
        golden: golden.to_string(),
        tolerance,
        against: None,
        rows,
        first_divergence,
        unmatched: Vec::new(),
    }
}

pub fn table(d: &Diff) -> String {
    let mut s = String::new();
    // Per-op tolerances (a quantized file against llama.cpp's own spread) get their own column.
    let per_op = d.rows.iter().any(|r| r.tolerance != d.tolerance);
    let _ = match &d.against {
        None => writeln!(
            s,
            "{} ({}) against golden/models/{} (tolerance rel L2 {:e})",
            d.model, d.device, d.golden, d.tolerance
        ),
        Some(other) => writeln!(
            s,
            "{} ({}) against {other} on the same file (golden set {}'s tokens; tolerance \
             rel L2 {:e}{})",
            d.model,
            d.device,
            d.golden,
            d.tolerance,
            if per_op {
                format!(", or {SPREAD_FACTOR}x llama.cpp's batch-vs-incremental spread at the op")
            } else {
                String::new()
            }
        ),
    };
    let _ = writeln!(
        s,
        "  {:<22} {:>11} {:>11} {:>10} {:>10}{}",
        "op",
        "L2 ours",
        "L2 ref",
        "rel L2",
        "cos min",
        if per_op { "  tolerance" } else { "" }
    );
    for (i, r) in d.rows.iter().enumerate() {
        let mark = if Some(i) == d.first_divergence {
            " <- first divergence"
        } else {
            ""
        };
        let tol = if per_op {
            format!(" {:>10.2e}", r.tolerance)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "{} {:<22} {:>11.4e} {:>11.4e} {:>10.2e} {:>10.6}{tol}{mark}",
            if r.rel_l2.is_nan() || r.rel_l2 > r.tolerance {
                "!"
            } else {
                " "
            },
            describe(&r.op),
            r.l2_ours,
            r.l2_reference,
            r.rel_l2,
            r.cosine_min
        );
    }
    if !d.unmatched.is_empty() {
        let names: Vec<String> = d.unmatched.iter().map(|n| describe(n)).collect();
        let _ = writeln!(
            s,
            "not compared (llama.cpp's graph names no such tensor): {}",
            names.join(", ")
        );
    }
    let _ = match d.first_divergence {
        Some(i) => {
            let r = &d.rows[i];
            writeln!(
                s,
                "first divergence: {} rel L2 {:.2e} > {:e}",
                describe(&r.op),
                r.rel_l2,
                r.tolerance
            )
        }
        None if per_op => writeln!(s, "no divergence: every op within its tolerance"),
        None => writeln!(s, "no divergence: every op within rel L2 {:e}", d.tolerance),
    };
    s
}
