//! The `oracle` command line. `run` takes its arguments and output streams so tests drive it
//! in-process, as they do the engine's CLI.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::golden;
use crate::verify::Verdict;

/// Every check held (an obligation that declares a requirement this machine lacks, such as a
/// GPU, may be NOT RUN).
pub const EXIT_OK: i32 = 0;
/// A violation, a broken contract, or a golden that does not match its manifest.
pub const EXIT_VIOLATION: i32 = 1;
/// Bad usage or something that could not be loaded.
pub const EXIT_USAGE: i32 = 2;
/// No violation, but an obligation did not run for a reason it did not declare (a missing
/// golden, a check that cannot run here).
pub const EXIT_DID_NOT_RUN: i32 = 3;

#[derive(Parser)]
#[command(
    name = "oracle",
    version,
    about = "Checks realizar against outside references, contract by contract",
    long_about = "oracle turns the YAML contracts in contracts/ into verdicts against the goldens in \
golden/.\n\nExit codes (the same for every --format): 0 every obligation holds (one that declares a \
requirement this machine lacks, `requires: [gpu]`, may be NOT RUN), 1 a violation or a broken \
contract, 2 usage or load error, 3 an obligation that did not run for a reason it did not declare \
(a missing golden): never a pass."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every contract and print the verdict table.
    ///
    /// Each obligation's check is measured against its threshold; with --falsify each contract's
    /// declared faults are injected into the engine and the contract must then be violated (a
    /// contract that still holds is BROKEN). A check that cannot run here is NOT RUN, never a pass.
    Verify {
        /// Folder of contract YAML files.
        #[arg(long, default_value = "contracts")]
        contracts: PathBuf,
        /// The repository root holding golden/.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Inject each contract's faults and require a violation (needs the `falsify` feature).
        #[arg(long)]
        falsify: bool,
        /// Also write verify.json and junit.xml (falsify.json, falsify-junit.xml with --falsify)
        /// into this folder.
        #[arg(long, value_name = "DIR")]
        reports: Option<PathBuf>,
    },
    /// An engine's forward pass against a golden set, op by op, with the first divergence.
    ///
    /// For each traced op (embedding; per layer attn_norm, q_norm and k_norm (Qwen3, Gemma 3),
    /// q, k, v, attn_out, attn_post_norm (Gemma), ffn_norm, ffn_gate, ffn_up, ffn_out,
    /// ffn_post_norm (Gemma), output; output_norm; logits): L2 norms, relative L2 error and the
    /// smallest per-token cosine against HF float64 (q and k after RoPE against llama.cpp's trace
    /// where the HF golden lacks them). Exit 1 if any op is above the tolerance.
    Diff {
        /// The model to run: a GGUF file or HF directory (for example the golden set's own F32 GGUF).
        #[arg(value_name = "MODEL")]
        model: PathBuf,
        /// The golden set: a folder name under golden/models (tiny-gqa, tiny-gemma3, ...).
        #[arg(long, value_name = "SET")]
        golden: String,
        #[arg(long, default_value_t = 1e-4)]
        tolerance: f64,
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// One JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Compliance report for the contracts one ticket touches: reports/<TICKET>.md and .json.
    ///
    /// Each obligation's measured value against its threshold, the contract's level, its
    /// falsification results (when built with the `falsify` feature), the engine commit and the
    /// provenance of the goldens. `oracle comply check` instead checks every contract is complete
    /// and bound to engine functions and tests that exist.
    #[command(subcommand_negates_reqs = true)]
    Comply {
        #[command(subcommand)]
        command: Option<ComplyCommand>,
        /// The ticket, as contracts list it (for example T-5).
        #[arg(long, value_name = "TICKET", required = true)]
        ticket: Option<String>,
        #[arg(long, default_value = "contracts", global = true)]
        contracts: PathBuf,
        #[arg(long, default_value = ".", global = true)]
        root: PathBuf,
        /// Where the reports go.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
    /// Quality gates from tool output; each rewrites its row of the README's quality table.
    Quality {
        #[command(subcommand)]
        command: QualityCommand,
    },
    /// Golden sets: the files in golden/ against their manifests.
    Golden {
        #[command(subcommand)]
        command: GoldenCommand,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Junit,
}

#[derive(Subcommand)]
enum QualityCommand {
    /// Line coverage of engine/ and oracle/ from cargo-llvm-cov's lcov file; exit 1 below the
    /// minimum.
    Coverage {
        #[arg(long, value_name = "lcov.info")]
        lcov: PathBuf,
        #[arg(long, default_value_t = 85.0)]
        min: f64,
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// The README whose quality table gets the figures.
        #[arg(long, default_value = "README.md")]
        readme: PathBuf,
    },
    /// Mutation score from cargo-mutants' outcomes.json (timeouts count as caught); writes every
    /// missed mutant with its reason to a Markdown report; exit 1 below the minimum or if a
    /// missed mutant has no reason in the accepted list.
    Mutants {
        /// Repeat for shards or reruns; a mutant's last outcome counts.
        #[arg(long, value_name = "outcomes.json", required = true)]
        outcomes: Vec<PathBuf>,
        #[arg(long, default_value_t = 80.0)]
        min: f64,
        /// Missed mutants judged acceptable, each with why (YAML list of `mutant`, `why`).
        #[arg(long, default_value = "reports/mutants-accepted.yaml")]
        accepted: PathBuf,
        /// The tree the mutants' file names are relative to (for `code` in the accepted list).
        #[arg(long, default_value = ".")]
        root: PathBuf,
        #[arg(long, default_value = "reports/mutants.md")]
        report: PathBuf,
        #[arg(long, default_value = "README.md")]
        readme: PathBuf,
    },
}

#[derive(Subcommand)]
enum ComplyCommand {
    /// Every contract has obligations and falsification cases, and every binding names an
    /// engine function and a test that exist. Exit 1 otherwise.
    Check,
}

#[derive(Subcommand)]
enum GoldenCommand {
    /// Verify every golden set: each file's size and sha256, each safetensors file's tensors
    /// (dtype and shape), no unlisted files, and that the scripts that made them are unchanged.
    /// Exit 1 on any mismatch.
    Check {
        /// The golden folder; manifests name scripts relative to its parent.
        #[arg(long, default_value = "golden")]
        dir: PathBuf,
        /// One JSON object on stdout instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the oracle with `args` (program name first) and returns the exit code.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli: Cli = match realizar::cli::parse(args, out, err) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Verify {
            contracts,
            root,
            format,
            falsify,
            reports,
        } => verify(&contracts, &root, format, falsify, reports.as_deref(), out),
        Command::Golden {
            command: GoldenCommand::Check { dir, json },
        } => golden_check(&dir, json, out),
        Command::Quality { command } => quality(command, out),
        Command::Comply {
            command,
            ticket,
            contracts,
            root,
            out: dir,
        } => comply(
            command.is_some(),
            ticket.as_deref(),
            &contracts,
            &root,
            &dir,
            out,
        ),
        Command::Diff {
            model,
            golden,
            tolerance,
            root,
            json,
        } => crate::diff::diff(&root, &model, &golden, tolerance).map(|d| {
            let _ = if json {
                writeln!(out, "{}", serde_json::to_string(&d).unwrap_or_default())
            } else {
                write!(out, "{}", crate::diff::table(&d))
            };
            if d.first_divergence.is_some() {
                EXIT_VIOLATION
            } else {
                EXIT_OK
            }
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_USAGE
        }
    }
}

fn verify(
    dir: &Path,
    root: &Path,
    format: Format,
    falsify: bool,
    reports: Option<&Path>,
    out: &mut dyn Write,
) -> Result<i32, String> {
    let contracts = crate::contract::load_dir(dir).map_err(|e| e.to_string())?;
    if contracts.is_empty() {
        return Err(format!("{} holds no contracts", dir.display()));
    }
    let injector = if falsify { Some(injector()?) } else { None };
    let ctx = crate::checks::Ctx::new(root);
    let results: Vec<_> = contracts
        .iter()
        .map(|c| crate::verify::evaluate(c, &ctx, injector))
        .collect();
    let _ = match format {
        Format::Text => write!(out, "{}", crate::report::table(&results, falsify)),
        Format::Json => writeln!(out, "{}", crate::report::json(&results)),
        Format::Junit => write!(out, "{}", crate::report::junit(&results)),
    };
    if let Some(dir) = reports {
        let (json, junit) = if falsify {
            ("falsify.json", "falsify-junit.xml")
        } else {
            ("verify.json", "junit.xml")
        };
        std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(dir.join(json), crate::report::json(&results) + "\n"))
            .and_then(|_| std::fs::write(dir.join(junit), crate::report::junit(&results)))
            .map_err(|e| format!("writing reports to {}: {e}", dir.display()))?;
        // The page people read: written by both runs, so after `make contracts` (verify, then
        // verify --falsify) it holds the falsification table too.
        {
            // The per-op divergence of every model a trace contract checks, for the plots.
            let mut diffs = Vec::new();
            for c in &contracts {
                for o in &c.obligations {
                    let crate::contract::Check::TraceParity(p) = &o.check else {
                        continue;
                    };
                    let (model, file) = (p.model.as_str(), p.file.as_str());
                    let path = ctx.model_path(model, file);
                    if let Ok(d) = crate::diff::diff(root, &path, model, o.threshold) {
                        diffs.push((c.id.clone(), d));
                    }
                }
            }
            std::fs::write(
                dir.join("index.html"),
                crate::report::html(&results, &diffs, &crate::report::provenance(root)),
            )
            .map_err(|e| format!("writing {}: {e}", dir.join("index.html").display()))?;
        }
    }
    Ok(verify_exit_code(&results))
}

/// The exit code of a verify run, the same for every output format: a violation or a broken
/// contract first, then an obligation that did not run for a reason it did not declare.
pub fn verify_exit_code(results: &[crate::verify::ContractResult]) -> i32 {
    if results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Violated | Verdict::Broken))
    {
        EXIT_VIOLATION
    } else if !crate::report::passed(results) {
        EXIT_DID_NOT_RUN
    } else {
        EXIT_OK
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

fn quality(command: QualityCommand, out: &mut dyn Write) -> Result<i32, String> {
    let head = crate::comply::engine_commit(Path::new("."));
    let commit = &head[..head.len().min(9)];
    match command {
        QualityCommand::Coverage {
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
            let cov = crate::quality::coverage(&text, &root, &["engine", "oracle"]);
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
            Ok(if pass { EXIT_OK } else { EXIT_VIOLATION })
        }
        QualityCommand::Mutants {
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
            let m = crate::quality::mutants(&runs);
            let accepted = crate::quality::load_accepted(&accepted)?;
            let reasons = crate::quality::reasons(&m, &accepted, &root);
            let unexplained = reasons.iter().filter(|r| r.1.is_none()).count();
            let pass = m.viable() > 0 && m.score() >= min && unexplained == 0;
            let verdict = if pass { "pass" } else { "FAIL" };
            let md = crate::quality::mutants_report(
                &m,
                &accepted,
                &reasons,
                &format!("gate {min}%, every missed mutant explained: {verdict}"),
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
                    "| mutation score | {figure} | at least {min}%, every missed mutant explained | {verdict} | {commit} |"
                ),
            )?;
            let _ = writeln!(
                out,
                "mutants: {figure}; {unexplained} missed without a reason; gate {min}%: {verdict}; report {}",
                report.display()
            );
            Ok(if pass { EXIT_OK } else { EXIT_VIOLATION })
        }
    }
}

fn comply(
    check: bool,
    ticket: Option<&str>,
    dir: &Path,
    root: &Path,
    out_dir: &Path,
    out: &mut dyn Write,
) -> Result<i32, String> {
    let contracts = crate::contract::load_dir(dir).map_err(|e| e.to_string())?;
    if check {
        let problems = crate::comply::check_bindings(root, &contracts);
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
            EXIT_OK
        } else {
            EXIT_VIOLATION
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
    let injector = injector().ok();
    let ctx = crate::checks::Ctx::new(root);
    let results: Vec<_> = tagged
        .iter()
        .map(|c| crate::verify::evaluate(c, &ctx, injector))
        .collect();
    let commit = crate::comply::engine_commit(root);
    let provenance = crate::comply::provenance(root, &tagged);
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
    let md = crate::comply::markdown(ticket, &commit, &results, &provenance, injector.is_some());
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
        if crate::comply::failed(&results) {
            "FAIL"
        } else {
            "ok"
        },
        results.len(),
        out_dir.join(format!("{name}.md")).display(),
        out_dir.join(format!("{name}.json")).display()
    );
    Ok(if crate::comply::failed(&results) {
        EXIT_VIOLATION
    } else {
        EXIT_OK
    })
}

#[cfg(feature = "falsify")]
fn injector() -> Result<&'static dyn Fn(Option<crate::contract::Fault>), String> {
    Ok(&realizar::faults::inject)
}

#[cfg(not(feature = "falsify"))]
fn injector() -> Result<&'static dyn Fn(Option<crate::contract::Fault>), String> {
    Err("--falsify needs the engine's fault hooks: build the oracle with --features falsify".into())
}

fn golden_check(dir: &Path, json: bool, out: &mut dyn Write) -> Result<i32, String> {
    let sets = golden::find_sets(dir)
        .map_err(|e| format!("cannot read golden folder {}: {e}", dir.display()))?;
    if sets.is_empty() {
        return Err(format!("no manifest.json under {}", dir.display()));
    }
    let root = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let reports: Vec<_> = sets.iter().map(|s| golden::check_set(root, s)).collect();
    let problems: usize = reports.iter().map(|r| r.problems.len()).sum();
    if json {
        let sets: Vec<_> = reports
            .iter()
            .map(|r| {
                let problems: Vec<_> = r
                    .problems
                    .iter()
                    .map(|p| serde_json::json!({"path": p.path, "problem": p.what}))
                    .collect();
                serde_json::json!({"set": r.set, "files_ok": r.files, "bytes": r.bytes, "problems": problems})
            })
            .collect();
        let summary = serde_json::json!({"ok": problems == 0, "problems": problems, "sets": sets});
        let _ = writeln!(out, "{summary}");
    } else {
        for r in &reports {
            let verdict = if r.problems.is_empty() {
                "ok  "
            } else {
                "FAIL"
            };
            let mb = r.bytes as f64 / 1e6;
            let _ = writeln!(
                out,
                "{verdict}  {:<32} {:>3} files  {mb:>6.1} MB",
                r.set, r.files
            );
            for p in &r.problems {
                let _ = writeln!(out, "      {p}");
            }
        }
        let files: usize = reports.iter().map(|r| r.files).sum();
        let mb = reports.iter().map(|r| r.bytes).sum::<u64>() as f64 / 1e6;
        let _ = if problems == 0 {
            let n = reports.len();
            writeln!(
                out,
                "golden check: {n} sets, {files} files ({mb:.1} MB) match their manifests"
            )
        } else {
            writeln!(out, "golden check: {problems} problems; see above")
        };
    }
    Ok(if problems == 0 {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    })
}
