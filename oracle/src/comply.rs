//! `oracle comply`: per-ticket compliance reports, and a check that every contract is complete
//! and bound to code and tests that exist.

use std::fmt::Write;
use std::path::Path;

use crate::contract::Contract;
use crate::verify::{ContractResult, Verdict};

/// The engine commit the report speaks for (or "unknown" outside a git checkout).
pub fn engine_commit(root: &Path) -> String {
    std::process::Command::new("git")
        .args(["-C", &root.to_string_lossy(), "rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Provenance of each golden model set the contracts read: tool versions, llama.cpp commit,
/// generation date.
pub fn provenance(root: &Path, contracts: &[Contract]) -> serde_json::Value {
    let mut models: Vec<&str> = contracts
        .iter()
        .flat_map(|c| c.obligations.iter().filter_map(|o| o.check.model()))
        .collect();
    models.sort_unstable();
    models.dedup();
    let goldens = crate::goldens::Goldens::of_repo(root);
    let sets: serde_json::Map<String, serde_json::Value> = models
        .into_iter()
        .map(|m| {
            let path = goldens.model_manifest(m);
            let manifest: serde_json::Value = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            let entry = serde_json::json!({
                "manifest": path.strip_prefix(root).unwrap_or(&path),
                "generated": manifest["generated"],
                "command": manifest["command"],
                "versions": manifest["versions"],
            });
            (m.to_string(), entry)
        })
        .collect();
    serde_json::Value::Object(sets)
}

pub fn markdown(
    ticket: &str,
    commit: &str,
    results: &[ContractResult],
    provenance: &serde_json::Value,
    falsified: bool,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Compliance report: {ticket}\n");
    let _ = writeln!(
        s,
        "Engine commit `{commit}`. {} contracts are tagged {ticket}.",
        results.len()
    );
    if !falsified {
        let _ = writeln!(
            s,
            "Falsification did not run: this oracle was built without the `falsify` feature."
        );
    }
    let _ = writeln!(s, "\n| contract | verdict | level |\n|---|---|---|");
    for r in results {
        let _ = writeln!(s, "| {} | {} | L{} |", r.id, r.verdict.label(), r.level);
    }
    for r in results {
        let _ = writeln!(
            s,
            "\n## {}: {}\n\n`{}`, verdict **{}**, level L{}.\n",
            r.id,
            r.title,
            r.file,
            r.verdict.label(),
            r.level
        );
        let _ = writeln!(s, "| obligation | metric | measured | threshold | holds | detail |\n|---|---|---|---|---|---|");
        for o in &r.obligations {
            let measured = o
                .value
                .map_or("not run".to_string(), |v| format!("{v:.3e}"));
            let holds = match o.status {
                crate::verify::Status::Holds => "yes",
                crate::verify::Status::Violated => "**no**",
                crate::verify::Status::NotRun => "not run",
                crate::verify::Status::Error => "**did not run**",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {measured} | {} {:e} | {holds} | {} |",
                o.id,
                o.metric,
                o.relation,
                o.threshold,
                o.detail.replace('|', "/")
            );
        }
        if !r.falsification.is_empty() {
            let _ = writeln!(s, "\n| fault | result | detail |\n|---|---|---|");
            for f in &r.falsification {
                let result = match f.caught {
                    Some(true) => "caught",
                    Some(false) => "**missed**",
                    None => "not run",
                };
                let _ = writeln!(
                    s,
                    "| {:?} | {result} | {} |",
                    f.fault,
                    f.detail.replace('|', "/")
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "\n## Golden provenance\n\n```json\n{}\n```",
        serde_json::to_string_pretty(provenance).unwrap_or_default()
    );
    s
}

pub fn failed(results: &[ContractResult]) -> bool {
    results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Violated | Verdict::Broken))
}

/// Every binding names a function and a test that exist: a test as `file::name` with
/// `fn name(` in that file; a function as a `realizar::...` path whose last segment is a
/// `fn` somewhere under engine/src (and whose type segment, if any, is declared there).
pub fn check_bindings(root: &Path, contracts: &[Contract]) -> Vec<String> {
    let mut engine_src = String::new();
    let mut stack = vec![root.join("engine/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                engine_src.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    let mut problems = Vec::new();
    for c in contracts {
        for t in &c.bindings.tests {
            let ok = t.split_once("::").is_some_and(|(file, name)| {
                std::fs::read_to_string(root.join(file))
                    .is_ok_and(|text| text.contains(&format!("fn {name}(")))
            });
            if !ok {
                problems.push(format!("{}: bound test {t} does not exist", c.id));
            }
        }
        for f in &c.bindings.functions {
            let segments: Vec<&str> = f.split("::").collect();
            let name = segments.last().copied().unwrap_or("");
            let type_ok = match segments.len() {
                n if n >= 2 && segments[n - 2].starts_with(|ch: char| ch.is_ascii_uppercase()) => {
                    let ty = segments[n - 2];
                    ["struct", "enum", "trait"]
                        .iter()
                        .any(|k| engine_src.contains(&format!("{k} {ty}")))
                }
                _ => true,
            };
            let fn_ok = engine_src.contains(&format!("fn {name}("))
                || engine_src.contains(&format!("fn {name}<"));
            if segments.first() != Some(&"realizar") || !type_ok || !fn_ok {
                problems.push(format!(
                    "{}: bound function {f} does not exist in engine/src",
                    c.id
                ));
            }
        }
    }
    problems
}

/// `oracle comply`: `--ticket T` writes the compliance report of the contracts tagged T;
/// `check` checks that every binding names code and tests that exist. Returns the exit code.
pub fn run(
    check: bool,
    ticket: Option<&str>,
    dir: &Path,
    root: &Path,
    out_dir: &Path,
    out: &mut dyn std::io::Write,
) -> Result<i32, String> {
    let contracts = crate::contract::load_dir(dir).map_err(|e| e.to_string())?;
    if check {
        let problems = check_bindings(root, &contracts);
        for p in &problems {
            let _ = writeln!(out, "{p}");
        }
        let bindings: usize = contracts
            .iter()
            .map(|c| c.bindings.functions.len() + c.bindings.tests.len())
            .sum();
        let _ = writeln!(
            out,
            "comply check: {} contracts, {bindings} bindings, {} problems",
            contracts.len(),
            problems.len()
        );
        return Ok(if problems.is_empty() {
            crate::exit::EXIT_OK
        } else {
            crate::exit::EXIT_VIOLATION
        });
    }
    let ticket = ticket.unwrap_or_default();
    let tagged: Vec<_> = contracts
        .into_iter()
        .filter(|c| c.tickets.iter().any(|t| t == ticket))
        .collect();
    if tagged.is_empty() {
        return Err(format!(
            "no contract in {} is tagged {ticket}",
            dir.display()
        ));
    }
    let injector = crate::verify::injector().ok();
    let ctx = crate::checks::Ctx::new(root);
    let falsify = injector.map(|i| crate::verify::Falsify { inject: Some(i) });
    let results: Vec<_> = tagged
        .iter()
        .map(|c| crate::verify::evaluate(c, &ctx, falsify))
        .collect();
    let commit = engine_commit(root);
    let provenance = provenance(root, &tagged);
    let name: String = ticket
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let md = markdown(ticket, &commit, &results, &provenance, injector.is_some());
    let json = serde_json::json!({
        "ticket": ticket,
        "engine_commit": commit,
        "falsification_ran": injector.is_some(),
        "contracts": results,
        "golden_provenance": provenance,
    });
    std::fs::create_dir_all(out_dir)
        .and_then(|_| std::fs::write(out_dir.join(format!("{name}.md")), &md))
        .and_then(|_| {
            std::fs::write(
                out_dir.join(format!("{name}.json")),
                json.to_string() + "\n",
            )
        })
        .map_err(|e| format!("writing reports to {}: {e}", out_dir.display()))?;
    let _ = writeln!(
        out,
        "{}: {} contracts for {ticket}; wrote {} and {}",
        if failed(&results) { "FAIL" } else { "ok" },
        results.len(),
        out_dir.join(format!("{name}.md")).display(),
        out_dir.join(format!("{name}.json")).display()
    );
    Ok(if failed(&results) {
        crate::exit::EXIT_VIOLATION
    } else {
        crate::exit::EXIT_OK
    })
}
