//! Quality gates from tool output: line coverage per crate from cargo-llvm-cov's lcov file, the
//! mutation score from cargo-mutants' `outcomes.json`, and the README's
//! quality table rewritten from them (between two marker comments), never by hand.

use std::io::Write;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Coverage {
    pub krate: String,
    pub lines: u64,
    pub covered: u64,
}

impl Coverage {
    pub fn percent(&self) -> f64 {
        if self.lines == 0 {
            100.0
        } else {
            100.0 * self.covered as f64 / self.lines as f64
        }
    }
}

/// Line coverage of the files under each of `crates` (folders relative to `root`), from an lcov
/// file (`SF:` names a file, `LF:`/`LH:` its lines found and hit).
pub fn coverage(lcov: &str, root: &Path, crates: &[&str]) -> Vec<Coverage> {
    let mut records: Vec<(String, u64, u64)> = Vec::new();
    for line in lcov.lines() {
        if let Some(file) = line.strip_prefix("SF:") {
            records.push((file.to_string(), 0, 0));
        } else if let (Some(v), Some(last)) = (line.strip_prefix("LF:"), records.last_mut()) {
            last.1 = v.trim().parse().unwrap_or(0);
        } else if let (Some(v), Some(last)) = (line.strip_prefix("LH:"), records.last_mut()) {
            last.2 = v.trim().parse().unwrap_or(0);
        }
    }
    crates
        .iter()
        .map(|krate| {
            let prefix = root.join(krate).join("src");
            let prefix = prefix.to_string_lossy();
            let mine = records.iter().filter(|r| r.0.starts_with(prefix.as_ref()));
            let (lines, covered) = mine.fold((0, 0), |(l, c), r| (l + r.1, c + r.2));
            Coverage {
                krate: krate.to_string(),
                lines,
                covered,
            }
        })
        .collect()
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Mutants {
    /// Mutants cargo-mutants found under the filters; more than were tested when a run is
    /// sharded or stopped early.
    pub found: u64,
    pub caught: u64,
    pub missed: u64,
    pub timeout: u64,
    pub unviable: u64,
    /// cargo-mutants' name of each missed mutant: `file:line:col: replacement in function`.
    pub missed_list: Vec<String>,
}

impl Mutants {
    pub fn viable(&self) -> u64 {
        self.caught + self.missed + self.timeout
    }

    pub fn tested(&self) -> u64 {
        self.viable() + self.unviable
    }

    /// Found under the filters but in no outcomes file given.
    pub fn untested(&self) -> u64 {
        self.found.saturating_sub(self.tested())
    }

    /// Caught (timeouts count as caught: the mutant changed behaviour enough to hang) over viable.
    pub fn score(&self) -> f64 {
        if self.viable() == 0 {
            0.0
        } else {
            100.0 * (self.caught + self.timeout) as f64 / self.viable() as f64
        }
    }
}

/// cargo-mutants' outcomes.json files, in order: a mutant tested in several (shards, or a rerun
/// with `--iterate` of what an earlier run missed) counts once, as its last outcome says.
/// `found` holds the mutants.json written beside each (every mutant the run was to test, listed
/// before the first is tested): outcomes.json's own total counts only what was tested so far, so
/// a run cut short is told from a complete one by these lists alone.
/// A list or an outcomes file of another shape is refused: read as empty, it would shrink what
/// counts as found, or as tested, without a word.
pub fn mutants(runs: &[serde_json::Value], found: &[serde_json::Value]) -> Result<Mutants, String> {
    let mut last = std::collections::BTreeMap::new();
    let mut listed = std::collections::BTreeSet::new();
    for list in found {
        let list = list
            .as_array()
            .ok_or("mutants.json is not a list of mutants")?;
        for mutant in list {
            let name = mutant["name"]
                .as_str()
                .ok_or("mutants.json lists a mutant without a name")?;
            listed.insert(name.to_string());
        }
    }
    for run in runs {
        let outcomes = run["outcomes"]
            .as_array()
            .ok_or("outcomes.json has no \"outcomes\" list")?;
        for o in outcomes {
            // The baseline scenario (when cargo-mutants ran one) is not a mutant.
            if let Some(name) = o["scenario"]["Mutant"]["name"].as_str() {
                last.insert(name.to_string(), o["summary"].as_str().unwrap_or(""));
            }
        }
    }
    listed.extend(last.keys().cloned());
    let mut m = Mutants {
        found: listed.len() as u64,
        ..Mutants::default()
    };
    for (name, summary) in last {
        match summary {
            "CaughtMutant" => m.caught += 1,
            "MissedMutant" => {
                m.missed += 1;
                m.missed_list.push(name);
            }
            "Timeout" => m.timeout += 1,
            "Unviable" => m.unviable += 1,
            // Counted nowhere it would read as "not tested", which it is not: refused by name.
            other => {
                return Err(format!(
                    "outcomes.json: mutant {name} has the outcome {other:?}, which the gate does not know"
                ))
            }
        }
    }
    // By file, then line: the order of the source.
    m.missed_list.sort_by_key(|name| {
        let (key, at) = split_name(name);
        (at.map(|(file, line)| (file.to_string(), line)), key)
    });
    Ok(m)
}

/// A mutant's name split into its key, `file: replacement in function` (no line and column, so
/// that a reason stays attached when code above it moves), and its file and line.
pub fn split_name(name: &str) -> (String, Option<(&str, usize)>) {
    let mut parts = name.splitn(4, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(file), Some(line), Some(col), Some(rest)) if col.parse::<u32>().is_ok() => {
            match line.parse::<usize>() {
                Ok(line) => (format!("{file}:{rest}"), Some((file, line))),
                Err(_) => (name.to_string(), None),
            }
        }
        _ => (name.to_string(), None),
    }
}

/// One entry of the committed list of surviving mutants and why each is acceptable.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// The mutant's key (see [`split_name`]).
    pub mutant: String,
    /// Text the mutated source line must contain, where one function has the same replacement
    /// in several places and only some are acceptable.
    #[serde(default)]
    pub code: Option<String>,
    pub why: String,
}

pub fn load_accepted(path: &Path) -> Result<Vec<Accepted>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let list: Vec<Accepted> =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(a) = list.iter().find(|a| a.why.trim().is_empty()) {
        return Err(format!("{}: {} has no reason", path.display(), a.mutant));
    }
    Ok(list)
}

/// Each missed mutant with the index of the accepted entry that explains it, if any. Source
/// lines are read from the files under `root`.
pub fn reasons<'a>(
    m: &'a Mutants,
    accepted: &[Accepted],
    root: &Path,
) -> Vec<(&'a str, Option<usize>)> {
    let mut sources = std::collections::BTreeMap::<String, Vec<String>>::new();
    m.missed_list
        .iter()
        .map(|name| {
            let (key, at) = split_name(name);
            let line = at.and_then(|(file, line)| {
                let lines = sources.entry(file.to_string()).or_insert_with(|| {
                    let text = std::fs::read_to_string(root.join(file)).unwrap_or_default();
                    text.lines().map(str::to_string).collect()
                });
                lines.get(line.checked_sub(1)?).cloned()
            });
            let fits = |a: &Accepted| {
                a.mutant == key
                    && match (&a.code, &line) {
                        (None, _) => true,
                        (Some(code), Some(line)) => line.contains(code.as_str()),
                        (Some(_), None) => false,
                    }
            };
            (name.as_str(), accepted.iter().position(fits))
        })
        .collect()
}

/// The Markdown report: the figures and verdict, every missed mutant with its reason (or marked
/// unexplained), then accepted entries that explain no missed mutant of this run.
pub fn mutants_report(
    m: &Mutants,
    accepted: &[Accepted],
    reasons: &[(&str, Option<usize>)],
    verdict: &str,
) -> String {
    let unexplained = reasons.iter().filter(|r| r.1.is_none()).count();
    let mut md = format!(
        "# Mutation testing\n\nWritten by `make mutants` (`oracle quality mutants`) from cargo-mutants' \
         outcomes; reasons come from `reports/mutants-accepted.yaml`.\n\n\
         - mutants found: {}, tested: {} ({} viable, {} unviable)\n\
         - caught: {}, timeouts: {}, missed: {} ({unexplained} unexplained)\n\
         - score: {:.1}%; {verdict}\n\n## Missed mutants\n\n",
        m.found,
        m.tested(),
        m.viable(),
        m.unviable,
        m.caught,
        m.timeout,
        m.missed,
        m.score()
    );
    if reasons.is_empty() {
        md.push_str("None.\n");
    } else {
        md.push_str("| mutant | why it is acceptable |\n|---|---|\n");
        for (name, why) in reasons {
            let why = why.map_or("**UNEXPLAINED**: add a test or a reason", |i| {
                accepted[i].why.trim()
            });
            // A `|` inside a table cell, even in code, ends the cell unless escaped.
            let cell = |t: &str| t.replace('\n', " ").replace('|', "\\|");
            md.push_str(&format!("| `{}` | {} |\n", cell(name), cell(why)));
        }
    }
    let stale: Vec<&Accepted> = (0..accepted.len())
        .filter(|i| !reasons.iter().any(|r| r.1 == Some(*i)))
        .map(|i| &accepted[i])
        .collect();
    if !stale.is_empty() {
        md.push_str("\n## Accepted but not missed in this run\n\n");
        for a in stale {
            md.push_str(&format!("- `{}`\n", a.mutant));
        }
    }
    md
}

pub const BEGIN: &str = "<!-- quality:begin (written by `oracle quality`) -->";
pub const END: &str = "<!-- quality:end -->";

/// Replaces one row (keyed by its first cell) of the table between the markers, keeping the rest.
pub fn update_readme(readme: &str, key: &str, row: &str) -> Result<String, String> {
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        return Err("README.md has no quality markers".into());
    };
    let body = &readme[b + BEGIN.len()..e];
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    let cell = format!("| {key} |");
    match lines.iter().position(|l| l.starts_with(&cell)) {
        Some(i) => lines[i] = row.to_string(),
        None => {
            let end = lines
                .iter()
                .rposition(|l| !l.trim().is_empty())
                .map_or(lines.len(), |i| i + 1);
            lines.insert(end, row.to_string());
        }
    }
    let table = lines.join("\n");
    Ok(format!(
        "{}{}\n{}",
        &readme[..b + BEGIN.len()],
        table.trim_end(),
        &readme[e..]
    ))
}

/// `oracle quality coverage|mutants`: a gate on the tool's output, its figure written into the
/// README's quality table. Returns the exit code.
pub fn command(command: crate::cli::QualityCommand, out: &mut dyn Write) -> Result<i32, String> {
    let head = crate::comply::engine_commit(Path::new("."));
    let commit = &head[..head.len().min(9)];
    match command {
        crate::cli::QualityCommand::Coverage {
            lcov,
            min,
            root,
            readme,
        } => {
            let root = root
                .canonicalize()
                .map_err(|e| format!("{}: {e}", root.display()))?;
            let text =
                std::fs::read_to_string(&lcov).map_err(|e| format!("{}: {e}", lcov.display()))?;
            let cov = coverage(&text, &root, &["engine", "oracle"]);
            let cells: Vec<String> = cov
                .iter()
                .map(|c| {
                    format!(
                        "{} {:.1}% ({}/{} lines)",
                        c.krate,
                        c.percent(),
                        c.covered,
                        c.lines
                    )
                })
                .collect();
            let pass = cov.iter().all(|c| c.lines > 0 && c.percent() >= min);
            let verdict = if pass { "pass" } else { "FAIL" };
            write_row(
                &readme,
                "line coverage",
                &format!(
                    "| line coverage | {} | at least {min}% per crate | {verdict} | {commit} |",
                    cells.join(", ")
                ),
            )?;
            let _ = writeln!(
                out,
                "coverage: {}; gate {min}%: {verdict}",
                cells.join(", ")
            );
            Ok(if pass {
                crate::exit::EXIT_OK
            } else {
                crate::exit::EXIT_VIOLATION
            })
        }
        crate::cli::QualityCommand::Mutants {
            outcomes,
            min,
            accepted,
            root,
            report,
            readme,
        } => {
            let runs = outcomes
                .iter()
                .map(|p| read_json(p))
                .collect::<Result<Vec<_>, _>>()?;
            // cargo-mutants writes the list of what it found beside its outcomes.
            let found = outcomes
                .iter()
                .map(|p| read_json(&p.with_file_name("mutants.json")))
                .collect::<Result<Vec<_>, _>>()?;
            let m = mutants(&runs, &found)?;
            let accepted = load_accepted(&accepted)?;
            let reasons = reasons(&m, &accepted, &root);
            let unexplained = reasons.iter().filter(|r| r.1.is_none()).count();
            // A mutant found but never tested (a run cut short, a shard missing) is not a pass.
            let untested = m.untested();
            let pass = m.viable() > 0 && m.score() >= min && unexplained == 0 && untested == 0;
            let verdict = if pass { "pass" } else { "FAIL" };
            let md = mutants_report(
                &m,
                &accepted,
                &reasons,
                &format!(
                    "gate {min}%, every missed mutant explained, every mutant tested: {verdict}"
                ),
            );
            let figure = format!(
                "{:.1}% ({} caught, {} timeouts, {} missed of {} viable; {} unviable; {} of {} mutants tested)",
                m.score(),
                m.caught,
                m.timeout,
                m.missed,
                m.viable(),
                m.unviable,
                m.tested(),
                m.found
            );
            if let Some(dir) = report.parent() {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            std::fs::write(&report, md).map_err(|e| format!("{}: {e}", report.display()))?;
            write_row(
                &readme,
                "mutation score",
                &format!(
                    "| mutation score | {figure} | at least {min}%, every missed mutant explained, every mutant tested | {verdict} | {commit} |"
                ),
            )?;
            let _ = writeln!(
                out,
                "mutants: {figure}; {unexplained} missed without a reason; {untested} not tested; gate {min}%: {verdict}; report {}",
                report.display()
            );
            Ok(if pass {
                crate::exit::EXIT_OK
            } else {
                crate::exit::EXIT_VIOLATION
            })
        }
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    std::fs::read(path)
        .map_err(|e| format!("{}: {e}", path.display()))
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display())))
}

fn write_row(readme: &Path, key: &str, row: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(readme).map_err(|e| format!("{}: {e}", readme.display()))?;
    let updated = crate::quality::update_readme(&text, key, row)?;
    std::fs::write(readme, updated).map_err(|e| format!("{}: {e}", readme.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_replaced_or_added_and_the_rest_kept() {
        let readme = format!(
            "intro\n{BEGIN}\n| gate | figure |\n|---|---|\n| coverage | 80% |\n{END}\nafter\n"
        );
        let once = update_readme(&readme, "coverage", "| coverage | 90% |").unwrap();
        assert!(once.contains("| coverage | 90% |") && !once.contains("80%"));
        let twice = update_readme(&once, "mutants", "| mutants | 85% |").unwrap();
        assert!(twice.contains("| coverage | 90% |\n| mutants | 85% |\n<!-- quality:end"));
        assert!(twice.starts_with("intro\n") && twice.ends_with(&format!("{END}\nafter\n")));
        assert_eq!(
            update_readme(&twice, "mutants", "| mutants | 85% |").unwrap(),
            twice
        );
    }

    #[test]
    fn a_later_run_overrides_an_earlier_one_for_the_same_mutant() {
        let run = |pairs: &[(&str, &str)]| {
            let outcomes: Vec<serde_json::Value> = pairs
                .iter()
                .map(
                    |(n, s)| serde_json::json!({"summary": s, "scenario": {"Mutant": {"name": n}}}),
                )
                .collect();
            serde_json::json!({"total_mutants": 3, "outcomes": outcomes})
        };
        let first = run(&[("a:1:1: x", "MissedMutant"), ("a:2:1: y", "CaughtMutant")]);
        let rerun = run(&[("a:1:1: x", "CaughtMutant"), ("a:3:1: z", "MissedMutant")]);
        let list = |names: &[&str]| {
            serde_json::Value::Array(
                names
                    .iter()
                    .map(|n| serde_json::json!({"name": n}))
                    .collect(),
            )
        };
        let found = list(&["a:1:1: x", "a:2:1: y", "a:3:1: z"]);
        let m = mutants(
            &[first.clone(), rerun.clone()],
            std::slice::from_ref(&found),
        )
        .unwrap();
        assert_eq!((m.caught, m.missed, m.found, m.untested()), (2, 1, 3, 0));
        assert_eq!(m.missed_list, ["a:3:1: z"]);
        // A mutant listed as found and in no outcomes file is untested, whatever the
        // outcomes' own totals say (a run cut short writes the count it reached).
        let more = list(&["a:1:1: x", "a:4:1: w"]);
        let m = mutants(&[first.clone(), rerun], &[found.clone(), more]).unwrap();
        assert_eq!((m.found, m.tested(), m.untested()), (4, 3, 1));
        // Lists of another shape are refused, not read as empty.
        let refused = |runs: &[serde_json::Value], found: &[serde_json::Value]| {
            mutants(runs, found).unwrap_err()
        };
        assert!(refused(
            std::slice::from_ref(&first),
            &[serde_json::json!({"name": "a"})]
        )
        .contains("not a list"));
        assert!(refused(
            std::slice::from_ref(&first),
            &[list(&["a"]), serde_json::json!([{}])]
        )
        .contains("without a name"));
        assert!(refused(
            &[serde_json::json!({"total_mutants": 1})],
            std::slice::from_ref(&found)
        )
        .contains("no \"outcomes\""));
        let odd = serde_json::json!({"outcomes": [
            {"summary": "Failure", "scenario": {"Mutant": {"name": "a:1:1: x"}}}
        ]});
        assert!(refused(&[odd], &[found]).contains("a:1:1: x has the outcome \"Failure\""));
    }

    #[test]
    fn a_mutant_name_splits_into_key_file_and_line() {
        assert_eq!(
            split_name("engine/src/ops.rs:14:13: replace / with % in rms_norm"),
            (
                "engine/src/ops.rs: replace / with % in rms_norm".to_string(),
                Some(("engine/src/ops.rs", 14))
            )
        );
        assert_eq!(split_name("a.rs: x"), ("a.rs: x".to_string(), None));
    }

    #[test]
    fn mutation_score_counts_timeouts_as_caught_and_skips_unviable() {
        let m = Mutants {
            found: 20,
            caught: 7,
            missed: 2,
            timeout: 1,
            unviable: 5,
            missed_list: vec![],
        };
        assert_eq!((m.viable(), m.tested(), m.untested()), (10, 15, 5));
        assert!((m.score() - 80.0).abs() < 1e-9);
    }
}
