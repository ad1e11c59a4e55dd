//! Falsification for engines that cannot be patched: a wrapper that perturbs what any engine
//! returns with one fault class each. Every contract that claims to guard that class must then
//! be violated for that engine, exactly as realizar's own fault hooks must violate it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Engine, Logits, Traced};
use crate::checks::Failure;
use crate::contract::{KernelName, Mode};

/// What the wrapper does to the engine's answers (named in snake_case in contracts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Perturbation {
    /// Two neighbouring positions' logits trade places (positions 1 and 2): an engine that
    /// mixes up the order of its outputs.
    SwapPositions,
    /// One token per call returns the previous position's logits from position 1 on (the first
    /// repeated): a KV cache read one position off.
    ShiftPosition,
    /// The last position's logits move by 2e-4 on every other entry: a small error in one row,
    /// just over the f32 thresholds (1e-4).
    PerturbRow,
    /// Every second call moves one logit by one ulp: an answer that depends on the call before
    /// it (state leaking between calls), so two identical calls differ.
    LeakBetweenCalls,
    /// The ids of each text lose their last token: a tokenizer that drops the tail.
    DropLastToken,
    /// The first layer's output (`layers.0.output` of a trace) is scaled by 1.02: a layer off
    /// by 2% that the logits may hide (a final RMSNorm undoes a uniform scale).
    ScaleTracedLayer,
}

pub struct Perturbed {
    inner: Arc<dyn Engine>,
    what: Perturbation,
    calls: AtomicUsize,
    /// How many answers the perturbation has changed so far.
    changed: AtomicUsize,
}

impl Perturbed {
    pub fn new(inner: Arc<dyn Engine>, what: Perturbation) -> Self {
        Perturbed {
            inner,
            what,
            calls: AtomicUsize::new(0),
            changed: AtomicUsize::new(0),
        }
    }

    /// How many answers (one call's logits, a trace, a tokenization) the perturbation has
    /// changed: an obligation whose answers it never changed cannot show it.
    pub fn changed(&self) -> usize {
        self.changed.load(Ordering::Relaxed)
    }

    fn mark_changed(&self) {
        self.changed.fetch_add(1, Ordering::Relaxed);
    }
}

impl Perturbed {
    /// What this wrapper does to one call's answer.
    fn perturb(&self, out: &mut Logits, mode: Mode) {
        let vocab = out.vocab;
        let rows = out.values.len() / vocab.max(1);
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let v = &mut out.values;
        match self.what {
            Perturbation::SwapPositions if rows >= 3 => {
                let (a, b) = v.split_at_mut(2 * vocab);
                a[vocab..].swap_with_slice(&mut b[..vocab]);
            }
            Perturbation::ShiftPosition if mode == Mode::Incremental && rows >= 2 => {
                v.copy_within(..(rows - 1) * vocab, vocab);
            }
            Perturbation::PerturbRow if rows > 0 => {
                for x in v[(rows - 1) * vocab..].iter_mut().step_by(2) {
                    *x += 2e-4;
                }
            }
            Perturbation::LeakBetweenCalls if call % 2 == 1 && !v.is_empty() => {
                v[0] = f32::from_bits(v[0].to_bits() ^ 1);
            }
            _ => return,
        }
        self.mark_changed();
    }
}

impl Engine for Perturbed {
    fn name(&self) -> String {
        format!("{} perturbed by {:?}", self.inner.name(), self.what)
    }

    fn is_builtin(&self) -> bool {
        self.inner.is_builtin()
    }

    fn logits_calls(
        &self,
        model: &Path,
        tokens: &[u32],
        modes: &[Mode],
        kernel: Option<KernelName>,
    ) -> Result<Vec<Logits>, Failure> {
        let mut calls = self.inner.logits_calls(model, tokens, modes, kernel)?;
        for (out, &mode) in calls.iter_mut().zip(modes) {
            self.perturb(out, mode);
        }
        Ok(calls)
    }

    fn trace(
        &self,
        model: &Path,
        tokens: &[u32],
        kernel: Option<KernelName>,
    ) -> Result<Traced, Failure> {
        let mut traced = self.inner.trace(model, tokens, kernel)?;
        if self.what == Perturbation::ScaleTracedLayer {
            if let Some((_, v)) = traced.trace.tensors.get_mut("layers.0.output") {
                v.iter_mut().for_each(|x| *x *= 1.02);
                self.mark_changed();
            }
        }
        Ok(traced)
    }

    fn tokenize(
        &self,
        vocab: &Path,
        texts: &[String],
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<Vec<u32>>, Failure> {
        let mut ids = self
            .inner
            .tokenize(vocab, texts, add_special, parse_special)?;
        if self.what == Perturbation::DropLastToken {
            for i in &mut ids {
                i.pop();
            }
            self.mark_changed();
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that returns position p's logits as p * 10 + j.
    struct Ramp;

    impl Engine for Ramp {
        fn name(&self) -> String {
            "ramp".into()
        }

        fn logits_calls(
            &self,
            _: &Path,
            tokens: &[u32],
            modes: &[Mode],
            _: Option<KernelName>,
        ) -> Result<Vec<Logits>, Failure> {
            let values: Vec<f32> = (0..tokens.len())
                .flat_map(|p| (0..3).map(move |j| (p * 10 + j) as f32))
                .collect();
            Ok(modes
                .iter()
                .map(|_| Logits {
                    values: values.clone(),
                    vocab: 3,
                    detail: String::new(),
                })
                .collect())
        }

        fn trace(
            &self,
            _: &Path,
            tokens: &[u32],
            _: Option<KernelName>,
        ) -> Result<Traced, Failure> {
            let mut trace = realizar::model::Trace::default();
            for key in ["layers.0.output", "layers.1.output"] {
                let shape = vec![tokens.len(), 2];
                trace
                    .tensors
                    .insert(key.into(), (shape, vec![1.0; tokens.len() * 2]));
            }
            Ok(Traced {
                trace,
                detail: String::new(),
            })
        }

        fn tokenize(
            &self,
            _: &Path,
            texts: &[String],
            _: bool,
            _: bool,
        ) -> Result<Vec<Vec<u32>>, Failure> {
            Ok(texts.iter().map(|_| vec![1, 2, 3]).collect())
        }
    }

    fn run(what: Perturbation, mode: Mode, calls: usize) -> Vec<f32> {
        let e = Perturbed::new(Arc::new(Ramp), what);
        let mut last = Vec::new();
        for _ in 0..calls {
            last = e
                .logits(Path::new("m"), &[0; 4], mode, None)
                .unwrap()
                .values;
        }
        last
    }

    #[test]
    fn each_perturbation_changes_only_what_it_names() {
        let clean: Vec<f32> = run(Perturbation::DropLastToken, Mode::Batch, 1);
        let swapped = run(Perturbation::SwapPositions, Mode::Batch, 1);
        assert_eq!(swapped[3..9], [20.0, 21.0, 22.0, 10.0, 11.0, 12.0]);
        assert_eq!((&swapped[..3], &swapped[9..]), (&clean[..3], &clean[9..]));
        assert_eq!(run(Perturbation::ShiftPosition, Mode::Batch, 1), clean);
        let shifted = run(Perturbation::ShiftPosition, Mode::Incremental, 1);
        assert_eq!(shifted[..6], [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
        assert_eq!(shifted[9..], [20.0, 21.0, 22.0]);
        let row = run(Perturbation::PerturbRow, Mode::Batch, 1);
        assert_eq!(row[..9], clean[..9]);
        assert_eq!(row[9..], [30.0 + 2e-4, 31.0, 32.0 + 2e-4]);
        assert_eq!(run(Perturbation::LeakBetweenCalls, Mode::Batch, 1), clean);
        let leaked = run(Perturbation::LeakBetweenCalls, Mode::Batch, 2);
        assert_ne!(leaked[0].to_bits(), clean[0].to_bits());
        assert_eq!(leaked[1..], clean[1..]);
        assert_eq!(run(Perturbation::LeakBetweenCalls, Mode::Batch, 3), clean);
        let e = Perturbed::new(Arc::new(Ramp), Perturbation::DropLastToken);
        let ids = e
            .tokenize(Path::new("v"), &["a".into()], false, false)
            .unwrap();
        assert_eq!(ids, [vec![1, 2]]);
        let traced = |what| {
            Perturbed::new(Arc::new(Ramp), what)
                .trace(Path::new("m"), &[0; 3], None)
                .unwrap()
                .trace
                .tensors
        };
        let scaled = traced(Perturbation::ScaleTracedLayer);
        assert_eq!(scaled["layers.0.output"].1, [1.02f32; 6]);
        assert_eq!(scaled["layers.1.output"].1, [1.0f32; 6]);
        assert_eq!(
            traced(Perturbation::SwapPositions)["layers.0.output"].1,
            [1.0f32; 6]
        );
    }

    /// verify counts only obligations whose answers a case changed: a decode-only case leaves
    /// batch calls alone, and says so.
    #[test]
    fn changed_counts_only_answers_the_case_altered() {
        let e = Perturbed::new(Arc::new(Ramp), Perturbation::ShiftPosition);
        e.logits(Path::new("m"), &[0; 4], Mode::Batch, None)
            .unwrap();
        assert_eq!(e.changed(), 0);
        e.logits(Path::new("m"), &[0; 1], Mode::Incremental, None)
            .unwrap();
        assert_eq!(
            e.changed(),
            0,
            "one position has no previous one to shift in"
        );
        e.logits(Path::new("m"), &[0; 4], Mode::Incremental, None)
            .unwrap();
        assert_eq!(e.changed(), 1);
        let e = Perturbed::new(Arc::new(Ramp), Perturbation::LeakBetweenCalls);
        e.logits(Path::new("m"), &[0; 4], Mode::Batch, None)
            .unwrap();
        assert_eq!(e.changed(), 0);
        e.logits(Path::new("m"), &[0; 4], Mode::Batch, None)
            .unwrap();
        assert_eq!(e.changed(), 1);
    }
}
