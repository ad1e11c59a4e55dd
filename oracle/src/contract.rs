//! Contracts: the YAML files in `contracts/`, schema 1 (documented in `contracts/README.md`),
//! parsed with serde-saphyr and validated on load. Every error names the file, the line and the
//! field.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const SCHEMA: u32 = 1;

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub schema: u32,
    pub id: String,
    pub title: String,
    pub description: String,
    /// The bug the contract prevents, with a reference to where it happened.
    pub rationale: String,
    pub tickets: Vec<String>,
    pub obligations: Vec<Obligation>,
    pub falsification: Vec<Falsification>,
    pub bindings: Bindings,
    /// Where the contract was loaded from (not in the YAML).
    #[serde(skip)]
    pub file: PathBuf,
}

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Obligation {
    pub id: String,
    /// What the check needs from the machine. Only an obligation that declares a requirement
    /// may be NOT RUN, and only where the machine lacks it.
    #[serde(default)]
    pub requires: Vec<Requirement>,
    pub check: CheckKind,
    #[serde(default)]
    pub params: Params,
    pub metric: Metric,
    pub threshold: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    LogitsParity,
    TraceParity,
    QuantExactness,
    QuantizeExactness,
    QuantError,
    Layout,
    KvConsistency,
    Determinism,
    TokenizerParity,
    DetokenizeStream,
    VocabParity,
    ParserRejects,
    LoadRefuses,
    RunPath,
    GpuParity,
    SamplingParity,
}

/// What a check runs on. Which fields a check needs is validated on load.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A reference model: golden/models/<model>.
    pub model: Option<String>,
    /// Which of its files: F32, Q4_K_M, ..., or hf (the HF directory).
    pub file: Option<String>,
    /// hf_f64 or llamacpp.
    pub reference: Option<Reference>,
    /// batch or incremental.
    pub mode: Option<Mode>,
    /// GGUF type names, for quant checks.
    #[serde(default)]
    pub types: Vec<String>,
    /// spm or bpe, for tokenizer checks.
    pub tokenizer: Option<String>,
    /// cpu or cuda, for GPU checks.
    pub backend: Option<String>,
    /// The CPU kernel the model's matrix products run on, by `Kernel::name` (scalar, avx2,
    /// avx512; default: the best this CPU runs). Validated on load.
    pub kernel: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelName {
    Scalar,
    Avx2,
    Avx512,
}

impl KernelName {
    pub fn kernel(self) -> realizar::quant::Kernel {
        use realizar::quant::Kernel;
        match self {
            KernelName::Scalar => Kernel::Scalar,
            KernelName::Avx2 => Kernel::Avx2,
            KernelName::Avx512 => Kernel::Avx512,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// A GPU backend and a device for it.
    Gpu,
    /// A CPU that runs the AVX2 kernel (AVX2, FMA, F16C).
    Avx2,
    /// A CPU that runs the AVX-512 kernel (F, BW, VL, VNNI).
    Avx512,
}

impl Requirement {
    pub fn name(self) -> &'static str {
        match self {
            Requirement::Gpu => "gpu",
            Requirement::Avx2 => "avx2",
            Requirement::Avx512 => "avx512",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    HfF64,
    Llamacpp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Batch,
    Incremental,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    MaxAbs,
    RelL2,
    KlMean,
    KlMax,
    CosineMin,
    SameTop,
    /// A count of failures (mismatching values, ids, strings, accepted malformed inputs).
    Mismatches,
    /// How far a measured error exceeds the reference implementation's own (negative: below).
    Excess,
}

impl Metric {
    /// Whether the measured value must be at most the threshold (errors) or at least (agreement).
    pub fn at_most(self) -> bool {
        !matches!(self, Metric::CosineMin | Metric::SameTop)
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::MaxAbs => "max_abs",
            Metric::RelL2 => "rel_l2",
            Metric::KlMean => "kl_mean",
            Metric::KlMax => "kl_max",
            Metric::CosineMin => "cosine_min",
            Metric::SameTop => "same_top",
            Metric::Mismatches => "mismatches",
            Metric::Excess => "excess",
        }
    }
}

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Falsification {
    pub fault: Fault,
    /// The verdict the contract must reach with the fault injected.
    pub expect: Expect,
}

/// The faults a contract may declare are exactly those the engine's hooks inject.
pub use realizar::faults::Fault;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Violated,
}

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bindings {
    /// Engine functions that implement what the contract guards, as paths (`realizar::...`).
    pub functions: Vec<String>,
    /// Tests that guard it, as `file::test_name` (file relative to the repository root).
    pub tests: Vec<String>,
}

/// A contract that could not be loaded: where, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field '{field}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The 1-based line where `needle` first appears at the start of a line's content.
fn line_of(text: &str, needle: &str) -> Option<u64> {
    text.lines()
        .position(|l| l.trim_start().trim_start_matches("- ").starts_with(needle))
        .map(|i| i as u64 + 1)
}

/// Parses and validates one contract file.
pub fn load_file(path: &Path) -> Result<Contract, LoadError> {
    let err = |line, field: Option<&str>, message: String| LoadError {
        file: path.to_path_buf(),
        line,
        field: field.map(str::to_string),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(None, None, e.to_string()))?;
    let mut c: Contract = serde_saphyr::from_str(&text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        let message = e.to_string();
        let first = message.lines().next().unwrap_or("").to_string();
        err(line, None, first)
    })?;
    c.file = path.to_path_buf();
    let at = |field: &str| line_of(&text, &format!("{field}:"));
    if c.schema != SCHEMA {
        return Err(err(
            at("schema"),
            Some("schema"),
            format!(
                "schema {} is not supported (this oracle reads {SCHEMA})",
                c.schema
            ),
        ));
    }
    let id_ok = !c.id.is_empty()
        && c.id
            .chars()
            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '-');
    if !id_ok {
        return Err(err(
            at("id"),
            Some("id"),
            format!("'{}' is not an id like LAYOUT-002", c.id),
        ));
    }
    for (field, value) in [
        ("title", &c.title),
        ("description", &c.description),
        ("rationale", &c.rationale),
    ] {
        if value.trim().is_empty() {
            return Err(err(at(field), Some(field), "must not be empty".into()));
        }
    }
    for (field, empty) in [
        ("tickets", c.tickets.is_empty()),
        ("obligations", c.obligations.is_empty()),
        ("falsification", c.falsification.is_empty()),
        ("bindings.functions", c.bindings.functions.is_empty()),
        ("bindings.tests", c.bindings.tests.is_empty()),
    ] {
        if empty {
            let key = field.rsplit('.').next().unwrap_or(field);
            return Err(err(at(key), Some(field), "needs at least one entry".into()));
        }
    }
    let mut seen = BTreeSet::new();
    for o in &c.obligations {
        let line = line_of(&text, &format!("id: {}", o.id));
        if !seen.insert(o.id.clone()) {
            return Err(err(
                line,
                Some("obligations.id"),
                format!("obligation id '{}' appears twice", o.id),
            ));
        }
        if !o.threshold.is_finite() || o.threshold < 0.0 {
            return Err(err(
                line,
                Some("obligations.threshold"),
                format!("{} is not a usable threshold", o.threshold),
            ));
        }
        if let Some(missing) = missing_param(o) {
            return Err(err(
                line,
                Some(&format!("obligations.params.{missing}")),
                format!("check {:?} needs params.{missing}", o.check),
            ));
        }
        let measures = o.check.metrics();
        if !measures.contains(&o.metric) {
            return Err(err(
                line,
                Some("obligations.metric"),
                format!(
                    "check {:?} does not measure {}; it measures {}",
                    o.check,
                    o.metric.name(),
                    measures
                        .iter()
                        .map(|m| m.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if let Some(k) = o
            .params
            .kernel
            .as_deref()
            .filter(|k| realizar::quant::Kernel::from_name(k).is_none())
        {
            return Err(err(
                line,
                Some("obligations.params.kernel"),
                format!("'{k}' is not a kernel (scalar, avx2, avx512)"),
            ));
        }
        if let Some(t) = o
            .params
            .types
            .iter()
            .find(|t| realizar::format::gguf::GgmlType::from_name(t).is_none())
        {
            return Err(err(
                line,
                Some("obligations.params.types"),
                format!("'{t}' is not a GGUF type name"),
            ));
        }
    }
    Ok(c)
}

impl CheckKind {
    /// The metrics this check measures; an obligation naming any other is a load error.
    pub fn metrics(self) -> &'static [Metric] {
        use Metric as M;
        match self {
            CheckKind::LogitsParity | CheckKind::RunPath => &[
                M::MaxAbs,
                M::RelL2,
                M::KlMean,
                M::KlMax,
                M::CosineMin,
                M::SameTop,
            ],
            CheckKind::TraceParity | CheckKind::GpuParity => &[M::RelL2],
            CheckKind::KvConsistency => &[M::MaxAbs],
            CheckKind::QuantError => &[M::Excess],
            CheckKind::QuantExactness
            | CheckKind::QuantizeExactness
            | CheckKind::Layout
            | CheckKind::Determinism
            | CheckKind::TokenizerParity
            | CheckKind::DetokenizeStream
            | CheckKind::VocabParity
            | CheckKind::ParserRejects
            | CheckKind::LoadRefuses
            | CheckKind::SamplingParity => &[M::Mismatches],
        }
    }
}

/// The first parameter a check kind needs that the obligation leaves out.
fn missing_param(o: &Obligation) -> Option<&'static str> {
    let p = &o.params;
    match o.check {
        CheckKind::LogitsParity => {
            if p.model.is_none() {
                Some("model")
            } else if p.file.is_none() {
                Some("file")
            } else if p.reference.is_none() {
                Some("reference")
            } else {
                None
            }
        }
        CheckKind::LoadRefuses => p.model.is_none().then_some("model"),
        CheckKind::TraceParity
        | CheckKind::RunPath
        | CheckKind::KvConsistency
        | CheckKind::Determinism
        | CheckKind::GpuParity => {
            if p.model.is_none() {
                Some("model")
            } else if p.file.is_none() {
                Some("file")
            } else {
                None
            }
        }
        CheckKind::QuantExactness | CheckKind::QuantizeExactness | CheckKind::QuantError => {
            p.types.is_empty().then_some("types")
        }
        CheckKind::TokenizerParity | CheckKind::DetokenizeStream | CheckKind::VocabParity => {
            p.tokenizer.is_none().then_some("tokenizer")
        }
        CheckKind::Layout | CheckKind::ParserRejects | CheckKind::SamplingParity => None,
    }
}

/// Every contract in `dir`, sorted by file name; ids must be unique across files.
pub fn load_dir(dir: &Path) -> Result<Vec<Contract>, LoadError> {
    let files = crate::contract_files(dir).map_err(|e| LoadError {
        file: dir.to_path_buf(),
        line: None,
        field: None,
        message: e.to_string(),
    })?;
    let mut out: Vec<Contract> = Vec::new();
    for f in files {
        let c = load_file(&f)?;
        if let Some(other) = out.iter().find(|o| o.id == c.id) {
            return Err(LoadError {
                file: f.clone(),
                line: std::fs::read_to_string(&f)
                    .ok()
                    .and_then(|t| line_of(&t, "id:")),
                field: Some("id".into()),
                message: format!("id {} is also used by {}", c.id, other.file.display()),
            });
        }
        out.push(c);
    }
    Ok(out)
}
