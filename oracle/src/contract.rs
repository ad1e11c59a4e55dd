//! Contracts: the YAML files in `contracts/`, schema 1 (documented in `contracts/README.md`),
//! parsed with serde-saphyr and validated on load. Every error names the file, the line and the
//! field.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const SCHEMA: u32 = 1;

/// A contract. `load_file` reads it with each obligation as its YAML holds it
/// ([`ObligationYaml`]) and returns it with each check typed ([`Obligation`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract<O = Obligation> {
    pub schema: u32,
    pub id: String,
    pub title: String,
    pub description: String,
    /// The bug the contract prevents, with a reference to where it happened.
    pub rationale: String,
    pub tickets: Vec<String>,
    pub obligations: Vec<O>,
    pub falsification: Vec<Falsification>,
    pub bindings: Bindings,
    /// Where the contract was loaded from (not in the YAML).
    #[serde(skip)]
    pub file: PathBuf,
}

/// An obligation as written: `check` names the kind and `params` are read by that kind alone,
/// so both are held untyped until [`Check`] types them together.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObligationYaml {
    pub id: String,
    #[serde(default)]
    pub requires: Vec<Requirement>,
    pub check: serde_json::Value,
    #[serde(default)]
    pub params: Option<serde_json::Value>,
    pub metric: Metric,
    pub threshold: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Obligation {
    pub id: String,
    /// What the check needs from the machine. Only an obligation that declares a requirement
    /// may be NOT RUN, and only where the machine lacks it.
    pub requires: Vec<Requirement>,
    pub check: Check,
    pub metric: Metric,
    pub threshold: f64,
}

/// One check kind with exactly the parameters it reads. The YAML's `check:` is the tag and its
/// `params:` the variant's struct, so a parameter the check needs but lacks, one it does not
/// read, and a value it cannot use (a kernel or GGUF type that is not one) are load errors with
/// the file and line; the checks then read typed parameters and default nothing.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "check", content = "params", rename_all = "snake_case")]
pub enum Check {
    LogitsParity(LogitsParams),
    TraceParity(ModelParams),
    QuantExactness(TypesParams),
    QuantizeExactness(TypesParams),
    QuantError(TypesParams),
    Layout(LayoutParams),
    KvConsistency(ModelParams),
    Determinism(ModelParams),
    TokenizerParity(TinyVocabParams),
    DetokenizeStream(TinyVocabParams),
    VocabParity(VocabParams),
    DetokenizeParity(DetokenizeParams),
    ParserRejects(NoParams),
    LoadRefuses(LoadRefusesParams),
    RunPath(RunPathParams),
    GpuParity(GpuParams),
    SamplingParity(NoParams),
    KernelSelection(NoParams),
}

impl Check {
    /// The name the YAML gives the check (`logits_parity`).
    pub fn name(&self) -> &'static str {
        match self {
            Check::LogitsParity(_) => "logits_parity",
            Check::TraceParity(_) => "trace_parity",
            Check::QuantExactness(_) => "quant_exactness",
            Check::QuantizeExactness(_) => "quantize_exactness",
            Check::QuantError(_) => "quant_error",
            Check::Layout(_) => "layout",
            Check::KvConsistency(_) => "kv_consistency",
            Check::Determinism(_) => "determinism",
            Check::TokenizerParity(_) => "tokenizer_parity",
            Check::DetokenizeStream(_) => "detokenize_stream",
            Check::VocabParity(_) => "vocab_parity",
            Check::DetokenizeParity(_) => "detokenize_parity",
            Check::ParserRejects(_) => "parser_rejects",
            Check::LoadRefuses(_) => "load_refuses",
            Check::RunPath(_) => "run_path",
            Check::GpuParity(_) => "gpu_parity",
            Check::SamplingParity(_) => "sampling_parity",
            Check::KernelSelection(_) => "kernel_selection",
        }
    }

    /// The metrics this check measures; an obligation naming any other is a load error.
    pub fn metrics(&self) -> &'static [Metric] {
        use Metric as M;
        match self {
            Check::LogitsParity(_) | Check::RunPath(_) => &[
                M::MaxAbs,
                M::RelL2,
                M::KlMean,
                M::KlMax,
                M::CosineMin,
                M::SameTop,
            ],
            Check::TraceParity(_) | Check::GpuParity(_) => &[M::RelL2],
            Check::KvConsistency(_) => &[M::MaxAbs],
            Check::QuantError(_) => &[M::Excess],
            Check::QuantExactness(_)
            | Check::QuantizeExactness(_)
            | Check::Layout(_)
            | Check::Determinism(_)
            | Check::TokenizerParity(_)
            | Check::DetokenizeStream(_)
            | Check::VocabParity(_)
            | Check::DetokenizeParity(_)
            | Check::ParserRejects(_)
            | Check::LoadRefuses(_)
            | Check::SamplingParity(_)
            | Check::KernelSelection(_) => &[M::Mismatches],
        }
    }

    /// The golden model the check reads, if any.
    pub fn model(&self) -> Option<&str> {
        match self {
            Check::LogitsParity(p) => Some(&p.model),
            Check::TraceParity(p) | Check::KvConsistency(p) | Check::Determinism(p) => {
                Some(&p.model)
            }
            Check::RunPath(p) => Some(&p.model),
            Check::GpuParity(p) => Some(&p.model),
            Check::LoadRefuses(p) => Some(&p.model),
            _ => None,
        }
    }
}

/// A golden model's file on a CPU kernel.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    /// A reference model: golden/models/<model>.
    pub model: String,
    /// Which of its files: F32, Q4_K_M, ..., or hf (the HF directory).
    pub file: String,
    /// The CPU kernel the model's matrix products run on (default: the best this CPU runs).
    #[serde(default)]
    pub kernel: Option<KernelName>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogitsParams {
    pub model: String,
    pub file: String,
    pub reference: Reference,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub kernel: Option<KernelName>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPathParams {
    pub model: String,
    pub file: String,
    /// hf_f64 (its rows), or llamacpp (its one-token-per-call logits on the same file).
    #[serde(default)]
    pub reference: Reference,
    #[serde(default)]
    pub kernel: Option<KernelName>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuParams {
    pub model: String,
    pub file: String,
    pub backend: Backend,
    /// The golden tokens in one batch (default) or one per call.
    #[serde(default)]
    pub mode: Mode,
    /// Every named intermediate of the pass, op by op in forward order, not only the logits:
    /// the value is the worst op's relative L2 and a failure names the first op above the
    /// threshold.
    #[serde(default)]
    pub trace: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadRefusesParams {
    pub model: String,
}

/// GGUF weight types; at least one.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypesParams {
    pub types: Vec<TypeName>,
}

/// The square and non-square F32 matrices always; with `types`, every listed type too.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutParams {
    #[serde(default)]
    pub types: Vec<TypeName>,
}

/// One of the two tiny golden vocabularies (golden/tokenizer/<spm|bpe>).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TinyVocabParams {
    pub tokenizer: TinyVocab,
}

/// A real vocabulary: a folder of golden/vocab.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabParams {
    pub tokenizer: String,
}

/// A real vocabulary (a folder of golden/vocab with its golden/detokenize/<name>.json) and the
/// `unparse_special` flag of llama.cpp's detokenizer (common_detokenize's `special`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetokenizeParams {
    pub tokenizer: String,
    pub unparse_special: bool,
}

/// A check that reads no parameters (`params` left out, or `{}`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TinyVocab {
    Spm,
    Bpe,
}

impl TinyVocab {
    pub fn name(self) -> &'static str {
        match self {
            TinyVocab::Spm => "spm",
            TinyVocab::Bpe => "bpe",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Cuda,
    Wgpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cuda => "cuda",
            Backend::Wgpu => "wgpu",
        }
    }
}

/// A GGUF type name (`Q4_K`), checked on load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TypeName(pub realizar::format::gguf::GgmlType);

impl TryFrom<String> for TypeName {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        realizar::format::gguf::GgmlType::from_name(&name)
            .map(TypeName)
            .ok_or_else(|| format!("'{name}' is not a GGUF type name"))
    }
}

impl TypeName {
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    #[default]
    HfF64,
    Llamacpp,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
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

/// One falsification case: `fault:` (one of realizar's hooks) or `perturb:` (what a wrapper
/// does to any engine's answers), and the verdict the contract must reach with it.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(try_from = "RawFalsification")]
pub struct Falsification {
    pub case: Case,
    pub expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFalsification {
    fault: Option<Fault>,
    perturb: Option<crate::engine::Perturbation>,
    expect: Expect,
}

impl TryFrom<RawFalsification> for Falsification {
    type Error = String;

    fn try_from(r: RawFalsification) -> Result<Self, String> {
        let case = match (r.fault, r.perturb) {
            (Some(f), None) => Case::Fault(f),
            (None, Some(p)) => Case::Perturb(p),
            _ => return Err("a falsification case names exactly one of fault: or perturb:".into()),
        };
        Ok(Falsification {
            case,
            expect: r.expect,
        })
    }
}

/// What a falsification case does. Serialized as its name (`drop_space_prefix`).
#[derive(Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Case {
    /// Injected into realizar by its hooks (the built-in engine only).
    Fault(Fault),
    /// Wrapped around any engine's answers.
    Perturb(crate::engine::Perturbation),
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Case::Fault(x) => write!(f, "{x:?}"),
            Case::Perturb(x) => write!(f, "{x:?}"),
        }
    }
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
    let c: Contract<ObligationYaml> = serde_saphyr::from_str(&text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        let message = e.to_string();
        let first = message.lines().next().unwrap_or("").to_string();
        err(line, None, first)
    })?;
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
    let mut obligations = Vec::with_capacity(c.obligations.len());
    for o in c.obligations {
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
        let check = typed_check(o.check, o.params)
            .map_err(|(field, message)| err(line, Some(&field), message))?;
        if let Check::QuantExactness(p) | Check::QuantizeExactness(p) | Check::QuantError(p) =
            &check
        {
            if p.types.is_empty() {
                return Err(err(
                    line,
                    Some("obligations.params.types"),
                    format!("check {} needs at least one type", check.name()),
                ));
            }
        }
        let measures = check.metrics();
        if !measures.contains(&o.metric) {
            return Err(err(
                line,
                Some("obligations.metric"),
                format!(
                    "check {} does not measure {}; it measures {}",
                    check.name(),
                    o.metric.name(),
                    measures
                        .iter()
                        .map(|m| m.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        obligations.push(Obligation {
            id: o.id,
            requires: o.requires,
            check,
            metric: o.metric,
            threshold: o.threshold,
        });
    }
    Ok(Contract {
        schema: c.schema,
        id: c.id,
        title: c.title,
        description: c.description,
        rationale: c.rationale,
        tickets: c.tickets,
        obligations,
        falsification: c.falsification,
        bindings: c.bindings,
        file: path.to_path_buf(),
    })
}

/// Types an obligation's `check` and `params` together as one [`Check`]. On error: the field
/// (`obligations.params.model`) and what is wrong with it.
fn typed_check(
    check: serde_json::Value,
    params: Option<serde_json::Value>,
) -> Result<Check, (String, String)> {
    let name = check.as_str().unwrap_or_default().to_string();
    let params = params.unwrap_or_else(|| serde_json::json!({}));
    let tagged = serde_json::json!({"check": check, "params": params});
    serde_path_to_error::deserialize(tagged).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names a missing or an unknown field in the message, at the struct's path.
        let quoted = inner.split('`').nth(1).unwrap_or_default();
        if path == "check" || path == "." {
            ("obligations.check".into(), inner)
        } else if inner.starts_with("missing field") {
            (
                format!("obligations.params.{quoted}"),
                format!("check {name} needs params.{quoted}"),
            )
        } else if inner.starts_with("unknown field") {
            (
                format!("obligations.params.{quoted}"),
                format!("check {name} does not read params.{quoted} ({inner})"),
            )
        } else {
            // `params.types[1]`: the field is the list.
            let field = path.split('[').next().unwrap_or_default();
            (format!("obligations.{field}"), inner)
        }
    })
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
