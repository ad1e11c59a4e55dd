//! `oracle diff`: an engine's forward pass against a golden set, op by op: L2 norms, relative
//! error, per-token cosine, and the first op whose error crosses the tolerance.

use std::fmt::Write;
use std::path::Path;

use realizar::model::Model;
use realizar::quant::Kernel;

use crate::checks::trace_parity::{describe, steps};
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
    pub golden: String,
    pub tolerance: f64,
    pub rows: Vec<Row>,
    /// Index into rows of the first op above the tolerance.
    pub first_divergence: Option<usize>,
}

/// `oracle diff`: the model at `model_path` (on the best kernel) against a golden set.
pub fn diff(root: &Path, model_path: &Path, golden: &str, tolerance: f64) -> Result<Diff, String> {
    let engine = Model::load(model_path, Kernel::best())
        .map_err(|e| format!("{}: {e}", model_path.display()))?;
    of_model(
        &engine,
        &Ctx::new(root),
        &model_path.display().to_string(),
        golden,
        tolerance,
    )
    .map_err(|f| f.to_string())
}

/// A loaded engine's traced pass against a golden set, op by op: what `oracle diff` prints and
/// what TRACE-PARITY measures (and the report plots) in one computation.
pub fn of_model(
    engine: &Model,
    ctx: &Ctx,
    shown: &str,
    golden: &str,
    tolerance: f64,
) -> Result<Diff, crate::checks::Failure> {
    let rows: Vec<Row> = steps(engine, ctx, golden)?
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
    Ok(Diff {
        model: shown.to_string(),
        golden: golden.to_string(),
        tolerance,
        rows,
        first_divergence,
    })
}

pub fn table(d: &Diff) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} against golden/models/{} (tolerance rel L2 {:e})",
        d.model, d.golden, d.tolerance
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
