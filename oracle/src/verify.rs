//! Verdicts: each obligation's measurement against its threshold, each contract's falsification
//! cases, and the level the contract has earned (computed, never declared).

use std::path::Path;

use crate::checks::{self, Ctx, Measurement};
use crate::contract::{Case, Contract, Fault, Obligation};
use crate::engine::Perturbed;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Holds,
    Violated,
    /// At least one obligation could not be checked because this machine lacks what it
    /// declares it needs (`requires: [gpu]`); none was violated.
    NotRun,
    /// A falsification case passed: the contract cannot tell a broken engine from a good one.
    Broken,
    /// An obligation did not run for a reason it did not declare (a missing golden, a check
    /// that cannot run here): the run fails.
    Error,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Holds => "HOLDS",
            Verdict::Violated => "VIOLATED",
            Verdict::NotRun => "NOT RUN",
            Verdict::Broken => "BROKEN",
            Verdict::Error => "DID NOT RUN",
        }
    }
}

/// One obligation's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Holds,
    Violated,
    /// This machine lacks a requirement the obligation declares.
    NotRun,
    /// It did not run, for a reason it did not declare: a failure of the run.
    Error,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ObligationResult {
    pub id: String,
    pub check: String,
    pub metric: &'static str,
    pub threshold: f64,
    /// "<=" or ">=".
    pub relation: &'static str,
    pub value: Option<f64>,
    pub status: Status,
    pub detail: String,
    /// A trace check's per-op rows, for the report's plot (not in the JSON: `oracle diff
    /// --json` prints them).
    #[serde(skip)]
    pub ops: Option<crate::diff::Diff>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct FalsificationResult {
    pub fault: crate::contract::Case,
    /// Some(true): the contract was violated, as it must be. None: could not run.
    pub caught: Option<bool>,
    pub detail: String,
    /// The first obligation the fault violated, and what it measured there against its
    /// threshold (None where it violated none, or measured nothing: an engine error).
    pub obligation: Option<String>,
    pub metric: Option<&'static str>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ContractResult {
    pub id: String,
    pub title: String,
    pub file: String,
    pub tickets: Vec<String>,
    pub verdict: Verdict,
    pub level: u8,
    pub obligations: Vec<ObligationResult>,
    pub falsification: Vec<FalsificationResult>,
}

fn check_obligation(o: &Obligation, ctx: &Ctx) -> ObligationResult {
    let at_most = o.metric.at_most();
    let (measured, ops) = checks::run(o, ctx);
    let (value, status, detail) = match measured {
        Measurement::Value { value, detail } => {
            let holds = if at_most {
                value <= o.threshold
            } else {
                value >= o.threshold
            };
            let status = if holds {
                Status::Holds
            } else {
                Status::Violated
            };
            (Some(value), status, detail)
        }
        // NOT RUN only where the obligation said what it needs and this machine lacks it.
        Measurement::Unavailable(needs, why) if o.requires.contains(&needs) => {
            (None, Status::NotRun, why)
        }
        Measurement::Unavailable(needs, why) => (
            None,
            Status::Error,
            format!(
                "{why} (the obligation does not declare requires: [{}], so this fails the run)",
                needs.name()
            ),
        ),
        Measurement::EnvError(why) => (None, Status::Error, why),
        Measurement::EngineError(why) => (None, Status::Violated, why),
    };
    ObligationResult {
        id: o.id.clone(),
        check: o.check.name().to_string(),
        metric: o.metric.name(),
        threshold: o.threshold,
        relation: if at_most { "<=" } else { ">=" },
        value,
        status,
        detail,
        ops,
    }
}

/// Injects faults into realizar; `None` where the oracle was built without the `falsify` feature
/// (then falsification cannot run, and says so).
pub type Injector<'a> = Option<&'a dyn Fn(Option<Fault>)>;

/// How the falsification cases run: realizar's fault cases through `inject` (built-in engine
/// only; an external engine cannot be patched, so they are left out), perturbation cases by
/// wrapping the engine under test.
#[derive(Clone, Copy)]
pub struct Falsify<'a> {
    pub inject: Injector<'a>,
}

/// Checks every obligation, then (with `falsify`) every falsification case that applies.
pub fn evaluate(c: &Contract, ctx: &Ctx, falsify: Option<Falsify>) -> ContractResult {
    let obligations: Vec<_> = c
        .obligations
        .iter()
        .map(|o| check_obligation(o, ctx))
        .collect();
    let mut falsification = Vec::new();
    for case in falsify.iter().flat_map(|_| &c.falsification) {
        let inject = falsify.and_then(|f| f.inject);
        let results: Vec<_> = match (case.case, inject) {
            (Case::Fault(fault), Some(inject)) if ctx.engine.is_builtin() => {
                inject(Some(fault));
                // A fault hook reaches whatever it patches: every obligation may show it.
                let r = c
                    .obligations
                    .iter()
                    .map(|o| (check_obligation(o, ctx), true))
                    .collect();
                inject(None);
                r
            }
            // An engine that is not realizar cannot be patched: its hooks' cases do not apply.
            (Case::Fault(_), _) if !ctx.engine.is_builtin() => continue,
            (Case::Fault(_), _) => {
                falsification.push(FalsificationResult {
                    fault: case.case,
                    caught: None,
                    detail: "realizar's fault hooks need the oracle built with --features falsify"
                        .into(),
                    obligation: None,
                    metric: None,
                    value: None,
                    threshold: None,
                });
                continue;
            }
            (Case::Perturb(p), _) => {
                let perturbed = std::sync::Arc::new(Perturbed::new(ctx.engine.clone(), p));
                let wrapped = Ctx {
                    engine: perturbed.clone(),
                    ..ctx.clone()
                };
                // Whether the wrapper changed any answer this obligation read: one whose
                // answers it left alone (a batch obligation under a decode-only case) cannot
                // show the case, holding or not.
                c.obligations
                    .iter()
                    .map(|o| {
                        let before = perturbed.changed();
                        let r = check_obligation(o, &wrapped);
                        (r, perturbed.changed() > before)
                    })
                    .collect()
            }
        };
        // Only an obligation that held without the case, and whose answers the case reached,
        // can catch it: one the engine already violates says nothing about the case (another
        // engine may violate some), nor does one the case never touched.
        let held: Vec<_> = results
            .iter()
            .zip(&obligations)
            .filter(|((_, reached), clean)| *reached && clean.status == Status::Holds)
            .map(|((r, _), _)| r)
            .collect();
        let violated: Vec<_> = held
            .iter()
            .filter(|r| r.status == Status::Violated)
            .collect();
        let caught = if !violated.is_empty() {
            Some(true)
        } else if held.is_empty() || held.iter().any(|r| r.status != Status::Holds) {
            None
        } else {
            Some(false)
        };
        let first = violated.first();
        let detail = match first {
            Some(r) => format!("{} violated: {}", r.id, r.detail),
            None if held.is_empty() => "no obligation that held without the case had an \
                                         answer the case changes, so none can show it"
                .into(),
            None => "every obligation still held".into(),
        };
        falsification.push(FalsificationResult {
            fault: case.case,
            caught,
            detail,
            obligation: first.map(|r| r.id.clone()),
            metric: first.map(|r| r.metric),
            value: first.and_then(|r| r.value),
            threshold: first.map(|r| r.threshold),
        });
    }
    let any = |s: Status| obligations.iter().any(|o| o.status == s);
    // A falsification case that could not run although every obligation ran is an error too.
    let falsify_error = falsification.iter().any(|f| f.caught.is_none()) && !any(Status::NotRun);
    let verdict = if falsification.iter().any(|f| f.caught == Some(false)) {
        Verdict::Broken
    } else if any(Status::Violated) {
        Verdict::Violated
    } else if any(Status::Error) || falsify_error {
        Verdict::Error
    } else if any(Status::NotRun) {
        Verdict::NotRun
    } else {
        Verdict::Holds
    };
    let level = level(c, &obligations, &falsification, &ctx.root);
    ContractResult {
        id: c.id.clone(),
        title: c.title.clone(),
        file: c.file.display().to_string(),
        tickets: c.tickets.clone(),
        verdict,
        level,
        obligations,
        falsification,
    }
}

/// L1 documented with obligations; L2 every obligation checked against goldens and holding; L3
/// plus a property test among its bound tests; L4 plus every falsification case caught and, for
/// parser contracts, a fuzz target for every reader.
fn level(
    c: &Contract,
    obligations: &[ObligationResult],
    falsification: &[FalsificationResult],
    root: &Path,
) -> u8 {
    let mut level = 1;
    if obligations.iter().all(|o| o.status == Status::Holds) {
        level = 2;
    } else {
        return level;
    }
    let has_property_test = c.bindings.tests.iter().any(|t| {
        let file = t.split("::").next().unwrap_or("");
        std::fs::read_to_string(root.join(file)).is_ok_and(|s| s.contains("proptest!"))
    });
    if has_property_test {
        level = 3;
    } else {
        return level;
    }
    // Where fuzzing applies (a parser contract), L4 also needs every reader's fuzz target, listed
    // in the fuzz manifest and with its source.
    let fuzzed = !c
        .obligations
        .iter()
        .any(|o| matches!(o.check, crate::contract::Check::ParserRejects(_)))
        || crate::fuzz::targets(root).is_ok_and(|listed| {
            crate::checks::parser_rejects::READERS.iter().all(|(t, _)| {
                listed.iter().any(|l| l == t) && crate::fuzz::source(root, t).is_file()
            })
        });
    if fuzzed && !falsification.is_empty() && falsification.iter().all(|f| f.caught == Some(true)) {
        level = 4;
    }
    level
}

/// What `oracle verify` runs.
pub struct Options<'a> {
    /// The folder of contract files.
    pub dir: &'a Path,
    /// The repository root holding golden/.
    pub root: &'a Path,
    /// The engine under test.
    pub engine: std::sync::Arc<dyn crate::engine::Engine>,
    pub format: crate::report::Format,
    /// Also run the falsification cases.
    pub falsify: bool,
    /// Where to write the JSON, JUnit and HTML reports too.
    pub reports: Option<&'a Path>,
}

/// `oracle verify`: every contract in `dir` against the goldens under `root`, `engine` under
/// test, printed in `format` on `out` (notes on `err`); with `reports`, also the JSON, JUnit and
/// HTML files. Returns the exit code.
pub fn run(
    o: Options,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Result<i32, String> {
    let Options {
        dir,
        root,
        engine,
        format,
        falsify,
        reports,
    } = o;
    let mut contracts = crate::contract::load_dir(dir).map_err(|e| e.to_string())?;
    if contracts.is_empty() {
        return Err(format!("{} holds no contracts", dir.display()));
    }
    let falsify_cases = match (falsify, engine.is_builtin()) {
        (false, _) => None,
        (true, true) => Some(Falsify {
            inject: Some(injector()?),
        }),
        // Another engine's cases are perturbations: they need no hooks.
        (true, false) => Some(Falsify { inject: None }),
    };
    if !engine.is_builtin() {
        let before: usize = contracts.iter().map(|c| c.obligations.len()).sum();
        contracts = for_external_engine(contracts);
        let after: usize = contracts.iter().map(|c| c.obligations.len()).sum();
        // On stderr, so --format json and junit stay machine-readable.
        let _ = writeln!(
            err,
            "engine {}: {after} of {before} obligations apply, in {} contracts (the others \
             check realizar's internals: its kernels, quantizers, layout, GPU backend)",
            engine.name(),
            contracts.len()
        );
        if contracts.is_empty() {
            return Err("no obligation applies to an external engine".into());
        }
    }
    let ctx = crate::checks::Ctx::with_engine(root, engine);
    let results: Vec<_> = contracts
        .iter()
        .map(|c| crate::verify::evaluate(c, &ctx, falsify_cases))
        .collect();
    let _ = match format {
        crate::report::Format::Text => write!(out, "{}", crate::report::table(&results, falsify)),
        crate::report::Format::Json => writeln!(out, "{}", crate::report::json(&results)),
        crate::report::Format::Junit => write!(out, "{}", crate::report::junit(&results)),
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
        std::fs::write(
            dir.join("index.html"),
            crate::report::html(&results, &crate::report::provenance(root)),
        )
        .map_err(|e| format!("writing {}: {e}", dir.join("index.html").display()))?;
    }
    Ok(exit_code(&results))
}

/// What of `contracts` applies to an engine other than realizar: the obligations whose check
/// asks the engine only for logits, token ids or traces, with no realizar kernel pinned, and the
/// perturbation cases (realizar's hooks cannot patch another engine). Contracts left with no
/// obligation are dropped.
pub fn for_external_engine(contracts: Vec<Contract>) -> Vec<Contract> {
    use crate::contract::Check;
    contracts
        .into_iter()
        .filter_map(|mut c| {
            c.obligations.retain(|o| match &o.check {
                Check::LogitsParity(p) => p.kernel.is_none(),
                Check::KvConsistency(p) | Check::Determinism(p) => p.kernel.is_none(),
                Check::TokenizerParity(_) => true,
                Check::TraceParity(p) => p.kernel.is_none(),
                _ => false,
            });
            c.falsification
                .retain(|f| matches!(f.case, Case::Perturb(_)));
            (!c.obligations.is_empty()).then_some(c)
        })
        .collect()
}

/// The exit code of a verify run, the same for every output format: a violation or a broken
/// contract first, then an obligation that did not run for a reason it did not declare.
pub fn exit_code(results: &[ContractResult]) -> i32 {
    if results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Violated | Verdict::Broken))
    {
        crate::exit::EXIT_VIOLATION
    } else if !crate::report::passed(results) {
        crate::exit::EXIT_DID_NOT_RUN
    } else {
        crate::exit::EXIT_OK
    }
}

/// The engine's fault injector, where the oracle was built with the `falsify` feature.
#[cfg(feature = "falsify")]
pub fn injector() -> Result<&'static dyn Fn(Option<crate::contract::Fault>), String> {
    Ok(&realizar::faults::inject)
}

#[cfg(not(feature = "falsify"))]
pub fn injector() -> Result<&'static dyn Fn(Option<crate::contract::Fault>), String> {
    Err("--falsify needs the engine's fault hooks: build the oracle with --features falsify".into())
}
