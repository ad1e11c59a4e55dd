//! The engine under test. The parity checks ask it for logits, token ids and traces (every named
//! intermediate of a pass) through one trait,
//! so the same contracts hold realizar (built in), any program that speaks the engine protocol
//! (docs/engine-protocol.md), or either of those with a perturbation wrapped around it.

mod builtin;
mod command;
mod perturb;

use std::path::Path;
use std::sync::Arc;

pub use builtin::Builtin;
pub use command::{read_npy_f32, Command};
pub use perturb::{Perturbation, Perturbed};

use crate::checks::Failure;
use crate::contract::{KernelName, Mode};
use realizar::model::Trace;

/// Every position's logits of one call, row-major `[positions, vocab]`.
pub struct Logits {
    pub values: Vec<f32>,
    pub vocab: usize,
    /// What the verdict should say about how they were made (realizar's kernel, say).
    pub detail: String,
}

/// Every named intermediate of one batch pass, `[positions, features]` each, under the names of
/// `realizar::model::TracePoint` (`embedding`, `layers.N.q`, ..., `logits`).
pub struct Traced {
    pub trace: Trace,
    /// What the verdict should say about how it was made (realizar's kernel, say).
    pub detail: String,
}

pub trait Engine: Send + Sync {
    /// The engine's name in verdicts and reports.
    fn name(&self) -> String;

    /// Whether this is realizar in-process: only then do obligations about realizar's own
    /// internals (a pinned CPU kernel, quantization, layout, the GPU backend) apply.
    fn is_builtin(&self) -> bool {
        false
    }

    /// Logits of `tokens` for the model file at `model`, once per entry of `modes` (one batch,
    /// or one token per call), each with a fresh cache but from one loaded model, so a check
    /// that compares the calls sees state one call leaves in the engine for the next.
    /// `kernel` pins one of realizar's CPU kernels (built-in engine only).
    fn logits_calls(
        &self,
        model: &Path,
        tokens: &[u32],
        modes: &[Mode],
        kernel: Option<KernelName>,
    ) -> Result<Vec<Logits>, Failure>;

    /// One call of `logits_calls`.
    fn logits(
        &self,
        model: &Path,
        tokens: &[u32],
        mode: Mode,
        kernel: Option<KernelName>,
    ) -> Result<Logits, Failure> {
        let mut calls = self.logits_calls(model, tokens, &[mode], kernel)?;
        calls
            .pop()
            .ok_or_else(|| crate::checks::engine(format!("{} answered no call", self.name())))
    }

    /// Every named intermediate of one batch pass over `tokens` of the model file at `model`:
    /// what TRACE-PARITY and `oracle diff` compare op by op. `kernel` as for `logits_calls`.
    fn trace(
        &self,
        model: &Path,
        tokens: &[u32],
        kernel: Option<KernelName>,
    ) -> Result<Traced, Failure>;

    /// Token ids of each text under the vocabulary of the model or vocab-only file at `vocab`.
    fn tokenize(
        &self,
        vocab: &Path,
        texts: &[String],
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<Vec<u32>>, Failure>;
}

/// A golden the engine is asked to read must be there: if it is not, the check did not run (the
/// environment's failure), whatever the engine would have said about it.
pub(crate) fn golden_file(path: &Path) -> Result<(), Failure> {
    if path.exists() {
        Ok(())
    } else {
        Err(crate::checks::env(format!(
            "{}: no such golden file",
            path.display()
        )))
    }
}

/// An engine from the command line: `realizar` (built in) or `cmd:PROGRAM [ARGS...]`, a
/// program that takes a request file as its last argument.
pub fn from_spec(spec: &str) -> Result<Arc<dyn Engine>, String> {
    if spec == "realizar" {
        return Ok(Arc::new(Builtin));
    }
    let Some(command) = spec.strip_prefix("cmd:") else {
        return Err(format!(
            "--engine {spec:?}: give `realizar` (built in) or `cmd:PROGRAM [ARGS...]` (a \
             program speaking docs/engine-protocol.md)"
        ));
    };
    let mut words = command.split_whitespace().map(str::to_string);
    let program = words
        .next()
        .ok_or_else(|| format!("--engine {spec:?}: no program after cmd:"))?;
    Ok(Arc::new(Command::new(program.into(), words.collect())))
}
