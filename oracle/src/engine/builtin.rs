//! realizar itself, in-process: the engine `oracle verify` checks by default.

use std::path::Path;

use realizar::backend::Forward;
use realizar::model::{Logits as Positions, Model};
use realizar::quant::Kernel;
use realizar::tokenizer::Tokenizer;

use super::{Engine, Logits, Traced};
use crate::checks::{engine, Failure};
use crate::contract::{KernelName, Mode, Requirement};

pub struct Builtin;

impl Builtin {
    /// A model file on the kernel asked for (the best this CPU runs when none is): a kernel this
    /// CPU lacks is Unavailable, a missing file the environment's failure, a refusal the engine's.
    pub fn load(path: &Path, kernel: Option<KernelName>) -> Result<Model, Failure> {
        let kernel = kernel.map_or_else(Kernel::best, KernelName::kernel);
        kernel.check().map_err(|e| {
            let needs = match kernel {
                Kernel::Avx512 => Requirement::Avx512,
                _ => Requirement::Avx2,
            };
            Failure::Unavailable(needs, e.to_string())
        })?;
        super::golden_file(path)?;
        // The file is there: whatever the loader says about it is the engine's failure.
        Model::load(path, kernel).map_err(|e| engine(format!("{}: {e}", path.display())))
    }

    /// One call on a loaded model, with a fresh cache: the sequence as one batch, or one token
    /// per forward call.
    fn call(m: &Model, tokens: &[u32], mode: Mode) -> Result<Logits, Failure> {
        let mut cache = m.new_cache(tokens.len());
        let values = match mode {
            Mode::Batch => m
                .forward(&mut cache, tokens, Positions::All)
                .map_err(engine)?,
            Mode::Incremental => {
                let mut all = Vec::with_capacity(tokens.len() * m.config.vocab);
                for &t in tokens {
                    all.extend(
                        m.forward(&mut cache, &[t], Positions::All)
                            .map_err(engine)?,
                    );
                }
                all
            }
        };
        Ok(Logits {
            values,
            vocab: m.config.vocab,
            detail: format!("{:?} kernel", m.kernel()),
        })
    }
}

impl Engine for Builtin {
    fn name(&self) -> String {
        "realizar".into()
    }

    fn is_builtin(&self) -> bool {
        true
    }

    fn logits_calls(
        &self,
        model: &Path,
        tokens: &[u32],
        modes: &[Mode],
        kernel: Option<KernelName>,
    ) -> Result<Vec<Logits>, Failure> {
        let m = Self::load(model, kernel)?;
        modes
            .iter()
            .map(|&mode| Self::call(&m, tokens, mode))
            .collect()
    }

    fn trace(
        &self,
        model: &Path,
        tokens: &[u32],
        kernel: Option<KernelName>,
    ) -> Result<Traced, Failure> {
        let m = Self::load(model, kernel)?;
        Ok(Traced {
            trace: m.trace_batch(tokens).map_err(engine)?,
            detail: format!("kernel: {}", m.kernel().name()),
        })
    }

    fn tokenize(
        &self,
        vocab: &Path,
        texts: &[String],
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<Vec<u32>>, Failure> {
        super::golden_file(vocab)?;
        let tok =
            Tokenizer::open(vocab).map_err(|e| engine(format!("{}: {e}", vocab.display())))?;
        Ok(texts
            .iter()
            .map(|t| tok.encode(t, add_special, parse_special))
            .collect())
    }
}
