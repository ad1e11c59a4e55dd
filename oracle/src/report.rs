//! Verdicts for people (a terminal table), for machines (JSON) and for CI systems (JUnit XML,
//! one test case per contract).

use std::fmt::Write;

use crate::verify::{ContractResult, Verdict};

fn value_text(v: Option<f64>) -> String {
    match v {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e6 => format!("{v:.0}"),
        Some(v) if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) => format!("{v:.2e}"),
        Some(v) => format!("{v:.4}"),
        None => "-".into(),
    }
}

pub fn table(results: &[ContractResult], falsified: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<24} {:<9} {:>5}  obligations",
        "contract", "verdict", "level"
    );
    for r in results {
        let obligations: Vec<String> = r
            .obligations
            .iter()
            .map(|o| {
                let mark = match o.holds {
                    Some(true) => "ok",
                    Some(false) => "FAIL",
                    None => "not run",
                };
                format!(
                    "{} {} {} {} {} ({mark})",
                    o.id,
                    o.metric,
                    value_text(o.value),
                    o.relation,
                    value_text(Some(o.threshold))
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "{:<24} {:<9} {:>5}  {}",
            r.id,
            r.verdict.label(),
            format!("L{}", r.level),
            obligations.join("; ")
        );
        for o in r.obligations.iter().filter(|o| o.holds != Some(true)) {
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
        "oracle verify: {} contracts: {} hold, {} violated, {} broken, {} not run{}",
        results.len(),
        count(Verdict::Holds),
        count(Verdict::Violated),
        count(Verdict::Broken),
        count(Verdict::NotRun),
        if falsified {
            " (falsification run)"
        } else {
            ""
        }
    );
    s
}

pub fn json(results: &[ContractResult]) -> String {
    let failed = results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Violated | Verdict::Broken));
    serde_json::json!({"ok": !failed, "contracts": results}).to_string()
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
    let skipped = results
        .iter()
        .filter(|r| r.verdict == Verdict::NotRun)
        .count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuite name=\"realizar contracts\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
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
