//! `oracle diff`: an engine's forward pass against a golden set, op by op: L2 norms, relative
//! error, per-token cosine, and the first op whose error crosses the tolerance.

use std::fmt::Write;
use std::path::Path;

use realizar::backend::{BackendKind, Runtime};
use realizar::quant::Kernel;

use crate::checks::trace_parity::{describe, steps, Step};
use crate::checks::Ctx;
use crate::metrics::{cosine_min, l2, rel_l2};

#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    pub op: String,
    pub reference: String,
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
    pub rows: Vec<Row>,
    /// Index into rows of the first op above the tolerance.
    pub first_divergence: Option<usize>,
}

/// `oracle diff`: the model at `model_path` on `backend` (the CPU's best kernel, or the GPU)
/// against a golden set. A backend that cannot start is an error, never a fallback.
pub fn diff(
    root: &Path,
    model_path: &Path,
    backend: BackendKind,
    golden: &str,
    tolerance: f64,
) -> Result<Diff, String> {
    let engine = Runtime::load(model_path, Kernel::best(), backend)
        .map_err(|e| format!("{} on the {}: {e}", model_path.display(), backend.name()))?;
    let steps = steps(&engine, &Ctx::new(root), golden).map_err(|f| f.to_string())?;
    let shown = model_path.display().to_string();
    Ok(of_steps(
        steps,
        (&shown, &engine.device()),
        golden,
        tolerance,
    ))
}

/// `oracle diff --engine SPEC`: another engine's trace (the protocol's `trace` request) of the
/// model at `model_path` against a golden set.
pub fn diff_engine(
    root: &Path,
    model_path: &Path,
    engine: &dyn crate::engine::Engine,
    golden: &str,
    tolerance: f64,
) -> Result<Diff, String> {
    let ctx = Ctx::new(root);
    let tokens = ctx.goldens.tokens(golden).map_err(|f| f.to_string())?;
    let traced = engine
        .trace(model_path, &tokens, None)
        .map_err(|f| f.to_string())?;
    let steps = crate::checks::trace_parity::pair(&traced.trace, &ctx, golden)
        .map_err(|f| f.to_string())?;
    let shown = model_path.display().to_string();
    Ok(of_steps(steps, (&shown, &traced.detail), golden, tolerance))
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
        })
        .collect();
    // A NaN error (a non-finite activation) diverges too.
    let first_divergence = rows
        .iter()
        .position(|r| r.rel_l2.is_nan() || r.rel_l2 > tolerance);
    Diff {
        model: shown.to_string(),
        device: device.to_string(),
        golden: golden.to_string(),
        tolerance,
        rows,
        first_divergence,
    }
}

pub fn table(d: &Diff) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}) against golden/models/{} (tolerance rel L2 {:e})",
        d.model, d.device, d.golden, d.tolerance
    );
    let _ = writeln!(
        s,
        "  {:<22} {:>11} {:>11} {:>10} {:>10}",
        "op", "L2 ours", "L2 golden", "rel L2", "cos min"
    );
    for (i, r) in d.rows.iter().enumerate() {
        let mark = if Some(i) == d.first_divergence {
            "<- first divergence"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "{} {:<22} {:>11.4e} {:>11.4e} {:>10.2e} {:>10.6} {mark}",
            if r.rel_l2 > d.tolerance { "!" } else { " " },
            describe(&r.op),
            r.l2_ours,
            r.l2_reference,
            r.rel_l2,
            r.cosine_min
        );
    }
    let _ = match d.first_divergence {
        Some(i) => {
            let r = &d.rows[i];
            writeln!(
                s,
                "first divergence: {} rel L2 {:.3} > {:e}",
                describe(&r.op),
                r.rel_l2,
                d.tolerance
            )
        }
        None => writeln!(s, "no divergence: every op within rel L2 {:e}", d.tolerance),
    };
    s
}
