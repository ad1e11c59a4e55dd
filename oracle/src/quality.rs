//! Quality gates from tool output: line coverage per crate from cargo-llvm-cov's lcov file, the
//! mutation score from cargo-mutants' `outcomes.json`, and the README's
//! quality table rewritten from them (between two marker comments), never by hand.

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
    pub caught: u64,
    pub missed: u64,
    pub timeout: u64,
    pub unviable: u64,
    /// `file:line: replacement` of each missed mutant.
    pub missed_list: Vec<String>,
}

impl Mutants {
    pub fn viable(&self) -> u64 {
        self.caught + self.missed + self.timeout
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

/// cargo-mutants' outcomes.json.
pub fn mutants(outcomes: &serde_json::Value) -> Mutants {
    let mut m = Mutants::default();
    for o in outcomes["outcomes"].as_array().into_iter().flatten() {
        let summary = o["summary"].as_str().unwrap_or("");
        match summary {
            "CaughtMutant" => m.caught += 1,
            "MissedMutant" => {
                m.missed += 1;
                let s = &o["scenario"]["Mutant"];
                m.missed_list.push(format!(
                    "{}:{}: {}",
                    s["file"].as_str().unwrap_or("?"),
                    s["span"]["start"]["line"].as_u64().unwrap_or(0),
                    s["name"]
                        .as_str()
                        .or_else(|| s["replacement"].as_str())
                        .unwrap_or("?")
                ));
            }
            "Timeout" => m.timeout += 1,
            "Unviable" => m.unviable += 1,
            _ => {}
        }
    }
    m
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
    fn mutation_score_counts_timeouts_as_caught_and_skips_unviable() {
        let m = Mutants {
            caught: 7,
            missed: 2,
            timeout: 1,
            unviable: 5,
            missed_list: vec![],
        };
        assert_eq!(m.viable(), 10);
        assert!((m.score() - 80.0).abs() < 1e-9);
    }
}
