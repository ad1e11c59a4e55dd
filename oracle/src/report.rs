//! Verdicts for people (a terminal table), for machines (JSON) and for CI systems (JUnit XML,
//! one test case per contract).

use std::fmt::Write;

use crate::verify::{ContractResult, Status, Verdict};

fn value_text(v: Option<f64>) -> String {
    match v {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e6 => format!("{v:.0}"),
        Some(v) if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) => format!("{v:.2e}"),
        Some(v) => format!("{v:.4}"),
        None => "-".into(),
    }
}

/// How many times an error measurement could grow before it crossed its bound, where that is a
/// number: ", 98x headroom". Nothing for counts bounded by 0 or for agreement metrics (>=).
fn headroom(value: Option<f64>, threshold: f64, relation: &str) -> String {
    match value {
        Some(v) if relation == "<=" && v > 0.0 && threshold > 0.0 => match threshold / v {
            r if r >= 10.0 => format!(", {r:.0}x headroom"),
            r => format!(", {r:.1}x headroom"),
        },
        _ => String::new(),
    }
}

pub fn table(results: &[ContractResult], falsified: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<24} {:<11} {:>5}  obligations",
        "contract", "verdict", "level"
    );
    for r in results {
        let obligations: Vec<String> = r
            .obligations
            .iter()
            .map(|o| {
                let mark = match o.status {
                    Status::Holds => "ok",
                    Status::Violated => "FAIL",
                    Status::NotRun => "not run",
                    Status::Error => "DID NOT RUN",
                };
                format!(
                    "{} {} {} {} {} ({mark}{})",
                    o.id,
                    o.metric,
                    value_text(o.value),
                    o.relation,
                    value_text(Some(o.threshold)),
                    if o.status == Status::Holds {
                        headroom(o.value, o.threshold, o.relation)
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "{:<24} {:<11} {:>5}  {}",
            r.id,
            r.verdict.label(),
            format!("L{}", r.level),
            obligations.join("; ")
        );
        for o in r.obligations.iter().filter(|o| o.status != Status::Holds) {
            let _ = writeln!(s, "{:<40}{}: {}", "", o.id, o.detail);
        }
        for f in &r.falsification {
            let mark = match f.caught {
                Some(true) => "caught",
                Some(false) => "MISSED",
                None => "not run",
            };
            let _ = writeln!(s, "{:<40}falsify {:?}: {mark} ({})", "", f.fault, f.detail);
        }
    }
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    let _ = writeln!(
        s,
        "oracle verify: {} contracts: {} hold, {} violated, {} broken, {} did not run, {} not run \
         (declared requirement missing){}",
        results.len(),
        count(Verdict::Holds),
        count(Verdict::Violated),
        count(Verdict::Broken),
        count(Verdict::Error),
        count(Verdict::NotRun),
        if falsified {
            " (falsification run)"
        } else {
            ""
        }
    );
    s
}

/// Whether the run passes: nothing violated, broken, or left unrun without a declared reason.
pub fn passed(results: &[ContractResult]) -> bool {
    !results.iter().any(|r| {
        matches!(
            r.verdict,
            Verdict::Violated | Verdict::Broken | Verdict::Error
        )
    })
}

pub fn json(results: &[ContractResult]) -> String {
    serde_json::json!({"ok": passed(results), "contracts": results}).to_string()
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn junit(results: &[ContractResult]) -> String {
    let failures = results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Violated | Verdict::Broken))
        .count();
    let errors = results
        .iter()
        .filter(|r| r.verdict == Verdict::Error)
        .count();
    let skipped = results
        .iter()
        .filter(|r| r.verdict == Verdict::NotRun)
        .count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuite name=\"realizar contracts\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        results.len()
    );
    for r in results {
        let _ = write!(
            s,
            "  <testcase classname=\"contracts\" name=\"{}\"",
            xml(&r.id)
        );
        let detail: Vec<String> = r
            .obligations
            .iter()
            .map(|o| {
                format!(
                    "{}: {} {} {} {}: {}",
                    o.id,
                    o.metric,
                    value_text(o.value),
                    o.relation,
                    o.threshold,
                    o.detail
                )
            })
            .chain(
                r.falsification
                    .iter()
                    .map(|f| format!("falsify {:?}: {:?} ({})", f.fault, f.caught, f.detail)),
            )
            .collect();
        match r.verdict {
            Verdict::Holds => {
                let _ = writeln!(s, "/>");
            }
            Verdict::NotRun => {
                let _ = writeln!(
                    s,
                    ">\n    <skipped message=\"{}\"/>\n  </testcase>",
                    xml(&detail.join("; "))
                );
            }
            Verdict::Error => {
                let _ = writeln!(
                    s,
                    ">\n    <error message=\"DID NOT RUN {}\">{}</error>\n  </testcase>",
                    xml(&r.title),
                    xml(&detail.join("\n"))
                );
            }
            Verdict::Violated | Verdict::Broken => {
                let _ = writeln!(
                    s,
                    ">\n    <failure message=\"{} {}\">{}</failure>\n  </testcase>",
                    r.verdict.label(),
                    xml(&r.title),
                    xml(&detail.join("\n"))
                );
            }
        }
    }
    s.push_str("</testsuite>\n");
    s
}

/// A line plot of relative L2 error per op (log scale), with the tolerance as a dashed line.
pub fn divergence_svg(d: &crate::diff::Diff) -> String {
    let (w, h, pad) = (720.0, 220.0, 40.0);
    let n = d.rows.len().max(2);
    let floor = 1e-9f64;
    let ys: Vec<f64> = d.rows.iter().map(|r| r.rel_l2.max(floor).log10()).collect();
    let (lo, hi) = (
        floor.log10(),
        ys.iter()
            .copied()
            .fold(d.tolerance.log10(), f64::max)
            .ceil()
            .max(0.0),
    );
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / (n - 1) as f64;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * (v - lo) / (hi - lo);
    let points: Vec<String> = ys
        .iter()
        .enumerate()
        .map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
        .collect();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\"><title>relative L2 error per op: {}</title>",
        xml(&d.model)
    );
    let _ = write!(s, "<line x1=\"{pad}\" y1=\"{t:.1}\" x2=\"{:.1}\" y2=\"{t:.1}\" stroke=\"#c00\" stroke-dasharray=\"4\"/>", w - pad, t = y(d.tolerance.log10()));
    let _ = write!(
        s,
        "<polyline fill=\"none\" stroke=\"#036\" stroke-width=\"2\" points=\"{}\"/>",
        points.join(" ")
    );
    for (i, r) in d.rows.iter().enumerate() {
        let color = if Some(i) == d.first_divergence {
            "#c00"
        } else {
            "#036"
        };
        let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{}: {:.2e}</title></circle>", x(i), y(ys[i]), xml(&r.op), r.rel_l2);
    }
    let _ = write!(s, "<text x=\"4\" y=\"{:.1}\" font-size=\"11\">1e{hi:.0}</text><text x=\"4\" y=\"{:.1}\" font-size=\"11\">1e{lo:.0}</text>", y(hi) + 4.0, y(lo));
    let _ = write!(s, "<text x=\"{pad}\" y=\"{:.1}\" font-size=\"11\">embedding</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">logits</text></svg>", h - 8.0, w - pad, h - 8.0);
    s
}

/// reports/index.html: every verdict, and the per-op divergence plot of each traced model.
pub fn html(results: &[ContractResult], diffs: &[(String, crate::diff::Diff)]) -> String {
    let mut s = String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>realizar contracts</title><style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:left;border-bottom:1px solid #ddd}.HOLDS{color:#070}.VIOLATED,.BROKEN{color:#c00;font-weight:bold}.NOT_RUN{color:#a60}</style></head><body><h1>realizar contracts</h1><table><tr><th>contract</th><th>verdict</th><th>level</th><th>obligations</th></tr>");
    for r in results {
        let class = format!("{:?}", r.verdict)
            .to_uppercase()
            .replace("NOTRUN", "NOT_RUN");
        let obligations: Vec<String> = r
            .obligations
            .iter()
            .map(|o| {
                format!(
                    "{} {} {} {} {}",
                    xml(&o.id),
                    o.metric,
                    value_text(o.value),
                    o.relation,
                    value_text(Some(o.threshold))
                )
            })
            .collect();
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"{class}\">{}</td><td>L{}</td><td>{}</td></tr>",
            xml(&r.id),
            r.verdict.label(),
            r.level,
            obligations.join("<br>")
        );
    }
    s.push_str("</table>");
    for (contract, d) in diffs {
        let _ = write!(s, "<h2>{}: {}</h2><p>relative L2 error of each op against the golden set {}; dashed: tolerance {:e}</p>{}", xml(contract), xml(&d.model), xml(&d.golden), d.tolerance, divergence_svg(d));
    }
    s.push_str("</body></html>\n");
    s
}
