//! Verdicts for people (a terminal table), for machines (JSON) and for CI systems (JUnit XML,
//! one test case per contract).

use std::fmt::Write;

/// How `oracle verify` prints its verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
}

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

/// The layer of an op of a divergence plot and the op's own name: "layers.3.attn_out" is
/// (Some("3"), "attn_out"), "logits" (None, "logits").
fn layer_and_op(op: &str) -> (Option<&str>, &str) {
    match op.strip_prefix("layers.").and_then(|r| r.split_once('.')) {
        Some((layer, name)) => (Some(layer), name),
        None => (None, op),
    }
}

/// A plot of relative L2 error per op (log scale): every op named under its point, a dotted line
/// at each layer boundary with the layer's number, the tolerance dashed, the first divergence
/// in red.
pub fn divergence_svg(d: &crate::diff::Diff) -> String {
    let step = 16.0;
    let (pad, top, plot_h, label_h) = (48.0, 22.0, 180.0, 110.0);
    let n = d.rows.len().max(2);
    let w = (2.0 * pad + step * (n - 1) as f64).max(360.0);
    let h = top + plot_h + label_h;
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
    let x = |i: usize| pad + step * i as f64;
    let y = |v: f64| top + plot_h - plot_h * (v - lo) / (hi - lo);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" font-family=\"sans-serif\"><title>relative L2 error per op: {}</title>",
        xml(&d.model)
    );
    // Decades on the y axis.
    let mut decade = lo;
    while decade <= hi {
        let _ = write!(
            s,
            "<line x1=\"{pad}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">1e{decade:.0}</text>",
            w - pad,
            pad - 4.0,
            y(decade) + 3.0,
            yy = y(decade)
        );
        decade += 3.0;
    }
    // Layer boundaries: a dotted line before the first op of each layer, with its number.
    let mut previous = None;
    for (i, r) in d.rows.iter().enumerate() {
        let (layer, _) = layer_and_op(&r.op);
        if layer.is_some() && layer != previous {
            let bx = x(i) - step / 2.0;
            let _ = write!(
                s,
                "<line x1=\"{bx:.1}\" y1=\"{top}\" x2=\"{bx:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-dasharray=\"1,3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#555\">layer {}</text>",
                top + plot_h,
                bx + 3.0,
                top - 6.0,
                layer.unwrap_or_default()
            );
        }
        previous = layer;
    }
    let _ = write!(s, "<line x1=\"{pad}\" y1=\"{t:.1}\" x2=\"{:.1}\" y2=\"{t:.1}\" stroke=\"#c00\" stroke-dasharray=\"4\"/>", w - pad, t = y(d.tolerance.log10()));
    let points: Vec<String> = ys
        .iter()
        .enumerate()
        .map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
        .collect();
    let _ = write!(
        s,
        "<polyline fill=\"none\" stroke=\"#036\" stroke-width=\"1.5\" points=\"{}\"/>",
        points.join(" ")
    );
    for (i, r) in d.rows.iter().enumerate() {
        let color = if Some(i) == d.first_divergence {
            "#c00"
        } else {
            "#036"
        };
        // The op's own name under its point (the layer is above the plot).
        let (_, name) = layer_and_op(&r.op);
        let (lx, ly) = (x(i) + 3.0, top + plot_h + 8.0);
        let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{}: {:.2e} against {}</title></circle><text x=\"{lx:.1}\" y=\"{ly:.1}\" font-size=\"9\" fill=\"{color}\" transform=\"rotate(60 {lx:.1} {ly:.1})\">{}</text>", x(i), y(ys[i]), xml(&r.op), r.rel_l2, xml(&r.reference), xml(name));
    }
    s.push_str("</svg>");
    s
}

/// One golden set's provenance, from its manifest, for the report.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub set: String,
    pub command: String,
    pub generated: String,
    pub tool: String,
    /// Tool versions, "name version" joined.
    pub versions: String,
    pub files: usize,
}

/// The provenance of every golden set under `golden/` (sets whose manifest cannot be read are
/// left out: `oracle golden check` is where they fail).
pub fn provenance(root: &std::path::Path) -> Vec<Provenance> {
    let golden = root.join("golden");
    let Ok(sets) = crate::golden::find_sets(&golden) else {
        return Vec::new();
    };
    sets.iter()
        .filter_map(|set| {
            let text = std::fs::read_to_string(set.join("manifest.json")).ok()?;
            let m: serde_json::Value = serde_json::from_str(&text).ok()?;
            let text_of = |k: &str| m[k].as_str().unwrap_or("-").to_string();
            let versions = m["versions"]
                .as_object()
                .map(|v| {
                    v.iter()
                        .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|| text_of("version"));
            Some(Provenance {
                set: set.strip_prefix(root).unwrap_or(set).display().to_string(),
                command: text_of("command"),
                generated: text_of("generated"),
                tool: text_of("tool"),
                versions,
                files: m["files"].as_object().map_or(0, |f| f.len()),
            })
        })
        .collect()
}

/// reports/index.html: the verdicts with each obligation's measurement, threshold and headroom,
/// the falsification table (after `--falsify`), the per-op divergence plot of each traced model,
/// and the provenance of every golden set.
pub fn html(results: &[ContractResult], provenance: &[Provenance]) -> String {
    // The plots are the trace checks' own measurements, not a second traced pass.
    let diffs: Vec<(&str, &crate::diff::Diff)> = results
        .iter()
        .flat_map(|r| {
            r.obligations
                .iter()
                .filter_map(|o| o.ops.as_ref())
                .map(|d| (r.id.as_str(), d))
        })
        .collect();
    let mut s = String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>realizar contracts</title><style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin-bottom:2em}td,th{padding:4px 10px;text-align:left;border-bottom:1px solid #ddd;vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.HOLDS,.caught{color:#070}.VIOLATED,.BROKEN,.ERROR,.missed{color:#c00;font-weight:bold}.NOT_RUN{color:#a60}.plot{overflow-x:auto}small{color:#666}</style></head><body><h1>realizar contracts</h1>");
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    let _ = write!(
        s,
        "<p id=\"summary\">{} contracts: {} hold, {} violated, {} broken, {} did not run, {} not run (declared requirement missing)</p>",
        results.len(),
        count(Verdict::Holds),
        count(Verdict::Violated),
        count(Verdict::Broken),
        count(Verdict::Error),
        count(Verdict::NotRun)
    );
    s.push_str("<h2>Verdicts</h2><table id=\"verdicts\"><tr><th>contract</th><th>verdict</th><th>level</th><th>obligation</th><th>metric</th><th>measured</th><th>threshold</th><th>headroom</th><th>detail</th></tr>");
    for r in results {
        let class = verdict_class(r.verdict);
        let span = r.obligations.len().max(1);
        for (i, o) in r.obligations.iter().enumerate() {
            if i == 0 {
                let _ = write!(
                    s,
                    "<tr><td rowspan=\"{span}\" title=\"{}\">{}<br><small>{}</small></td><td rowspan=\"{span}\" class=\"{class}\">{}</td><td rowspan=\"{span}\">L{}</td>",
                    xml(&r.file),
                    xml(&r.id),
                    xml(&r.title),
                    r.verdict.label(),
                    r.level
                );
            } else {
                s.push_str("<tr>");
            }
            let _ = write!(
                s,
                "<td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{} {}</td><td class=\"num\">{}</td><td><small>{}</small></td></tr>",
                xml(&o.id),
                o.metric,
                value_text(o.value),
                o.relation,
                value_text(Some(o.threshold)),
                headroom(o.value, o.threshold, o.relation).trim_start_matches(", "),
                xml(&o.detail)
            );
        }
    }
    s.push_str("</table>");
    let falsified: Vec<(&ContractResult, &crate::verify::FalsificationResult)> = results
        .iter()
        .flat_map(|r| r.falsification.iter().map(move |f| (r, f)))
        .collect();
    if falsified.is_empty() {
        s.push_str("<h2>Falsification</h2><p>Not run in this report: <code>oracle verify --falsify --reports DIR</code> (as <code>make contracts</code> runs it) adds, for every fault each contract declares, what the fault made the first violated obligation measure against its threshold.</p>");
    } else {
        s.push_str("<h2>Falsification</h2><p>Each contract's declared faults, injected one at a time: the contract must be violated. The measurement is the first obligation the fault violated.</p><table id=\"falsification\"><tr><th>contract</th><th>fault</th><th>result</th><th>obligation</th><th>measured with the fault</th><th>threshold</th><th>detail</th></tr>");
        for (r, f) in falsified {
            let (class, label) = match f.caught {
                Some(true) => ("caught", "caught"),
                Some(false) => ("missed", "NOT CAUGHT"),
                None => ("NOT_RUN", "not run"),
            };
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{label}</td><td>{}</td><td class=\"num\">{} {}</td><td class=\"num\">{}</td><td><small>{}</small></td></tr>",
                xml(&r.id),
                xml(
                    serde_json::to_value(f.fault)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .as_deref()
                        .unwrap_or("?")
                ),
                xml(f.obligation.as_deref().unwrap_or("-")),
                f.metric.unwrap_or(""),
                value_text(f.value),
                f.threshold.map_or("-".into(), |t| value_text(Some(t))),
                xml(&f.detail)
            );
        }
        s.push_str("</table>");
    }
    if !diffs.is_empty() {
        s.push_str("<h2>Divergence per op</h2>");
    }
    for &(contract, d) in &diffs {
        let _ = write!(s, "<h3>{}: {}</h3><p>relative L2 error of each op against the golden set {} (hover a point for the reference tensor); dashed: tolerance {:e}{}</p><div class=\"plot\">{}</div>", xml(contract), xml(&d.model), xml(&d.golden), d.tolerance, d.first_divergence.map_or(String::new(), |i| format!("; first divergence: {}", xml(&d.rows[i].op))), divergence_svg(d));
    }
    s.push_str("<h2>Golden provenance</h2><table id=\"provenance\"><tr><th>set</th><th>generated</th><th>command</th><th>tool</th><th>versions</th><th>files</th></tr>");
    for p in provenance {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td><small>{}</small></td><td><small>{}</small></td><td class=\"num\">{}</td></tr>",
            xml(&p.set),
            xml(&p.generated),
            xml(&p.command),
            xml(&p.tool),
            xml(&p.versions),
            p.files
        );
    }
    s.push_str("</table></body></html>\n");
    s
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "HOLDS",
        Verdict::Violated => "VIOLATED",
        Verdict::Broken => "BROKEN",
        Verdict::Error => "ERROR",
        Verdict::NotRun => "NOT_RUN",
    }
}
