//! One module per check kind. A check measures one number for an obligation; whether it holds
//! is the threshold's business. A check that cannot run says why and is never a pass.

mod determinism;
mod detokenize_parity;
mod detokenize_stream;
mod gpu_parity;
mod kernel_selection;
mod kv_consistency;
mod layout;
mod load_refuses;
mod logits_parity;
pub(crate) mod parser_rejects;
mod quant_error;
mod quant_exactness;
mod quantize_exactness;
mod run_path;
mod sampling_parity;
mod tokenizer_parity;
pub mod trace_parity;
mod vocab_parity;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use realizar::format::gguf::Gguf;
use realizar::model::Model;
use realizar::tokenizer::Tokenizer;

use crate::contract::{Check, KernelName, Metric, Obligation, Requirement, TinyVocab};
use crate::engine::Engine;
use crate::goldens::Goldens;
use crate::metrics::LogitsComparison;

/// What a check measured.
#[derive(Clone, Debug, PartialEq)]
pub enum Measurement {
    Value {
        value: f64,
        detail: String,
    },
    /// This machine lacks what the check needs (a GPU backend): NOT RUN, and only for an
    /// obligation that declares that requirement.
    Unavailable(Requirement, String),
    /// Something the check reads is missing or unreadable (a golden file): the run fails.
    EnvError(String),
    /// The engine failed (a model that no longer loads, a forward pass that errors): a violation.
    EngineError(String),
}

/// Why a check produced no value. Every error is classified where it arises: there is no
/// conversion from a bare string, so nothing becomes NOT RUN by accident.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// Something here is missing or unreadable (a golden, a folder): the check did not run, and
    /// the run fails.
    Env(String),
    /// The engine failed (a model that no longer loads, a forward pass that errors, one of its
    /// readers rejecting a golden): a violation.
    Engine(String),
    /// This machine lacks what the check needs (a CPU kernel, a GPU): NOT RUN where the
    /// obligation declares the requirement, a failure of the run where it does not.
    Unavailable(Requirement, String),
}

/// Marks an error as the environment's (a golden that is missing or unreadable).
pub fn env(e: impl std::fmt::Display) -> Failure {
    Failure::Env(e.to_string())
}

impl std::error::Error for Failure {}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Env(why) => f.write_str(why),
            Failure::Engine(why) => write!(f, "engine error: {why}"),
            Failure::Unavailable(_, why) => write!(f, "unavailable here: {why}"),
        }
    }
}

/// What one check returns: its value and a line of detail.
pub type Outcome = Result<(f64, String), Failure>;

/// Marks an error as the engine's, not the environment's: the obligation is then violated.
pub fn engine(e: impl std::fmt::Display) -> Failure {
    Failure::Engine(e.to_string())
}

/// Shared by every check of one run: where the goldens are.
#[derive(Clone)]
pub struct Ctx {
    pub root: PathBuf,
    /// Where every golden is.
    pub goldens: Goldens,
    /// The engine the parity checks ask for logits and token ids.
    pub engine: Arc<dyn Engine>,
}

impl Ctx {
    /// The goldens under `root`, checking realizar in-process.
    pub fn new(root: &Path) -> Self {
        Self::with_engine(root, Arc::new(crate::engine::Builtin))
    }

    /// The goldens under `root`, checking `engine`.
    pub fn with_engine(root: &Path, engine: Arc<dyn Engine>) -> Self {
        Ctx {
            root: root.to_path_buf(),
            goldens: Goldens::of_repo(root),
            engine,
        }
    }

    /// A golden model's file (a GGUF label or `hf`), loaded by realizar in-process on the kernel
    /// an obligation names (the best this CPU runs when it names none). The kernel is part of
    /// the detail of every verdict that loads a model.
    pub fn model(
        &self,
        model: &str,
        file: &str,
        kernel: Option<KernelName>,
    ) -> Result<Model, Failure> {
        crate::engine::Builtin::load(&self.goldens.model_file(model, file), kernel)
    }

    /// A golden tokenizer (`spm`, `bpe`) read by the engine from its vocab-only GGUF, and the
    /// golden strings with llama.cpp's ids (tokenize.json).
    pub fn vocab(&self, which: TinyVocab) -> Result<(Tokenizer, serde_json::Value), Failure> {
        let which = which.name();
        let vocab = self.goldens.tiny_vocab(which);
        if !vocab.is_file() {
            return Err(env(format!("{}: no such golden file", vocab.display())));
        }
        // The file is there: a reader that rejects it is the engine's failure.
        let g = Gguf::open(&vocab).map_err(|e| engine(format!("{}: {e}", vocab.display())))?;
        let tok = Tokenizer::from_gguf(&g.header().metadata).map_err(engine)?;
        let path = self.goldens.tiny_tokenize(which);
        let golden = std::fs::read(&path)
            .map_err(|e| env(format!("{}: {e}", path.display())))
            .and_then(|b| {
                serde_json::from_slice(&b).map_err(|e| env(format!("{}: {e}", path.display())))
            })?;
        Ok((tok, golden))
    }
}

/// Picks the obligation's metric out of a logits comparison.
pub fn logits_metric(c: &LogitsComparison, metric: Metric) -> Result<f64, Failure> {
    Ok(match metric {
        Metric::MaxAbs => c.max_abs,
        Metric::RelL2 => c.rel_l2,
        Metric::KlMean => c.kl.mean,
        Metric::KlMax => c.kl.max,
        Metric::CosineMin => c.cosine_min,
        Metric::SameTop => c.same_top,
        Metric::Mismatches | Metric::Excess => {
            return Err(env(format!("logits are not compared by {}", metric.name())))
        }
    })
}

pub fn widen(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| f64::from(v)).collect()
}

/// Runs one obligation's check; a trace check also returns its per-op rows, which the report
/// plots instead of tracing the model again.
pub fn run(o: &Obligation, ctx: &Ctx) -> (Measurement, Option<crate::diff::Diff>) {
    let mut ops = None;
    let result = match &o.check {
        Check::LogitsParity(p) => logits_parity::run(p, o.metric, ctx),
        Check::TraceParity(p) => trace_parity::run(p, o.threshold, ctx).map(|(v, detail, d)| {
            ops = Some(d);
            (v, detail)
        }),
        Check::QuantExactness(p) => quant_exactness::run(&p.types, ctx),
        Check::QuantizeExactness(p) => quantize_exactness::run(&p.types, ctx),
        Check::Layout(p) => layout::run(&p.types),
        Check::KvConsistency(p) => kv_consistency::run(p, ctx),
        Check::Determinism(p) => determinism::run(p, ctx),
        Check::TokenizerParity(p) => tokenizer_parity::run(p.tokenizer, ctx),
        Check::DetokenizeStream(p) => detokenize_stream::run(p.tokenizer, ctx),
        Check::VocabParity(p) => vocab_parity::run(&p.tokenizer, ctx),
        Check::DetokenizeParity(p) => detokenize_parity::run(p, ctx),
        Check::GpuParity(p) => gpu_parity::run(p, o.threshold, ctx),
        Check::QuantError(p) => quant_error::run(&p.types, ctx),
        Check::ParserRejects(_) => parser_rejects::run(ctx),
        Check::LoadRefuses(p) => load_refuses::run(&p.model, ctx),
        Check::RunPath(p) => run_path::run(p, o.metric, ctx),
        Check::SamplingParity(_) => sampling_parity::run(ctx),
        Check::KernelSelection(_) => kernel_selection::run(),
    };
    let measured = match result {
        Ok((value, detail)) => Measurement::Value { value, detail },
        Err(f @ Failure::Engine(_)) => Measurement::EngineError(f.to_string()),
        Err(Failure::Env(why)) => Measurement::EnvError(why),
        Err(Failure::Unavailable(needs, why)) => Measurement::Unavailable(needs, why),
    };
    (measured, ops)
}
