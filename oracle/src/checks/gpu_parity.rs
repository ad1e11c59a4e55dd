//! GPU against CPU logits: the golden tokens through the same file on the CPU and on the GPU
//! backend (wgpu), in one batch or one token per call, compared by relative L2. The CPU runs its
//! scalar kernel, the reference every SIMD kernel is checked against and the same on every
//! machine: the GPU computes a quantized block as it does (activations quantized alike, an exact
//! integer sum, exp, tanh and division with the CPU's bits), and agrees with it to 0..1e-6. The SIMD kernels sum blocks in another order, and
//! on a few inputs (tiny-gqa's Q4_K token 1, whose embedding row repeats values) that moves an
//! activation across a rounding boundary of the next quantization: AVX-512 and scalar then
//! differ by 1.1e-2 relative L2, which would be measured here as the GPU's error. The GPU adapter
//! is the engine's choice (`realizar backends`); CI's is Mesa's lavapipe. A machine without an
//! adapter, or a build without the `wgpu` feature, reports NOT RUN, which only an obligation that
//! declares `requires: [gpu]` may. With `trace: true` every named intermediate of the pass is
//! compared, in forward order, and the first op above the threshold is named: where a GPU kernel
//! drifts, not only that the logits did.

use super::{widen, Ctx, Failure};
use crate::contract::{Backend, GpuParams, KernelName, Mode, Requirement};
use crate::metrics::{max_abs, rel_l2};
use realizar::backend::{gpu_adapter, BackendKind, Forward, GpuError, Runtime};
use realizar::model::{Logits, ModelError, Observer, TracePoint};

/// Every named intermediate in the order the pass produced it; one call's rows after the
/// previous call's under the same name (incremental mode).
#[derive(Default)]
struct Ops(Vec<(String, Vec<f32>)>);

impl Observer for Ops {
    fn observe(&mut self, p: TracePoint<'_>) {
        let key = p.key();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, data)) => data.extend_from_slice(p.data),
            None => self.0.push((key, p.data.to_vec())),
        }
    }
}

/// The logits of the golden tokens in `mode`, and with `ops` every intermediate.
fn logits<M: Forward>(
    m: &M,
    tokens: &[u32],
    mode: Mode,
    mut ops: Option<&mut Ops>,
) -> Result<Vec<f32>, ModelError> {
    let mut cache = m.new_cache(tokens.len())?;
    let mut call = |t: &[u32]| {
        let obs = ops.as_deref_mut().map(|o| o as &mut dyn Observer);
        m.forward_traced(&mut cache, t, Logits::All, obs)
    };
    match mode {
        Mode::Batch => call(tokens),
        Mode::Incremental => {
            let mut all = Vec::new();
            for &t in tokens {
                all.extend(call(&[t])?);
            }
            Ok(all)
        }
    }
}

pub fn run(p: &GpuParams, threshold: f64, ctx: &Ctx) -> super::Outcome {
    if p.backend == Backend::Cuda {
        return Err(Failure::Unavailable(
            Requirement::Gpu,
            "no cuda backend in this build of realizar (its GPU backend is wgpu)".into(),
        ));
    }
    // No adapter here (or no GPU backend in this build): the machine lacks what the obligation
    // requires. Anything after this point that fails is the engine's failure.
    let adapter =
        gpu_adapter().map_err(|e| Failure::Unavailable(Requirement::Gpu, e.to_string()))?;
    let tokens = ctx.goldens.tokens(&p.model)?;
    let cpu = ctx.model(&p.model, &p.file, Some(KernelName::Scalar))?;
    let gpu =
        Runtime::on(ctx.model(&p.model, &p.file, None)?, BackendKind::Gpu).map_err(
            |e| match e {
                ModelError::Gpu(GpuError::NoAdapter(why)) => {
                    Failure::Unavailable(Requirement::Gpu, why)
                }
                e => super::engine(format!("{} {} on the GPU: {e}", p.model, p.file)),
            },
        )?;
    let (mut cpu_ops, mut gpu_ops) = (Ops::default(), Ops::default());
    let on_cpu = p.trace.then_some(&mut cpu_ops);
    let reference = widen(&logits(&cpu, &tokens, p.mode, on_cpu).map_err(super::engine)?);
    let on_gpu = p.trace.then_some(&mut gpu_ops);
    let ours = widen(&logits(&gpu, &tokens, p.mode, on_gpu).map_err(super::engine)?);
    let mode = match p.mode {
        Mode::Batch => "one batch",
        Mode::Incremental => "one token per call",
    };
    if p.trace {
        return trace(&cpu_ops, &gpu_ops, threshold).map(|(value, detail)| {
            let detail = format!(
                "{} positions ({mode}), {}: {detail}",
                tokens.len(),
                adapter.name
            );
            (value, detail)
        });
    }
    let value = rel_l2(&reference, &ours);
    Ok((
        value,
        format!(
            "{} positions ({mode}), {:?} kernel vs {} ({}, {}): rel L2 {value:.2e}, max abs {:.2e}",
            tokens.len(),
            cpu.kernel(),
            adapter.name,
            adapter.backend,
            adapter.device_type,
            max_abs(&reference, &ours),
        ),
    ))
}

/// The GPU's ops against the CPU's in the CPU's order: the worst relative L2 (a NaN counts as
/// infinite) and which op crossed `threshold` first. An op the GPU did not trace fails.
fn trace(cpu: &Ops, gpu: &Ops, threshold: f64) -> Result<(f64, String), Failure> {
    let (mut worst, mut worst_op, mut first) = (0.0f64, "", None);
    for (key, reference) in &cpu.0 {
        let ours = gpu
            .0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, d)| d)
            .ok_or_else(|| super::engine(format!("the GPU pass traced no {key}")))?;
        if ours.len() != reference.len() {
            return Err(super::engine(format!(
                "{key}: the GPU traced {} values, the CPU {}",
                ours.len(),
                reference.len()
            )));
        }
        let err = rel_l2(&widen(reference), &widen(ours));
        let err = if err.is_nan() { f64::INFINITY } else { err };
        if err > threshold && first.is_none() {
            first = Some((key.as_str(), err));
        }
        if err > worst || worst_op.is_empty() {
            (worst, worst_op) = (err, key);
        }
    }
    let detail = match first {
        Some((op, err)) => format!(
            "{} ops; first divergence: {} rel L2 {err:.2e}",
            cpu.0.len(),
            super::trace_parity::describe(op)
        ),
        None => format!(
            "{} ops, worst {} rel L2 {worst:.2e}",
            cpu.0.len(),
            super::trace_parity::describe(worst_op)
        ),
    };
    Ok((worst, detail))
}
