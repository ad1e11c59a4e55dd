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
//! declares `requires: [gpu]` may.

use super::{widen, Ctx, Failure};
use crate::contract::{Backend, GpuParams, KernelName, Mode, Requirement};
use crate::metrics::{max_abs, rel_l2};
use realizar::backend::{gpu_adapter, BackendKind, Forward, GpuError, Runtime};
use realizar::model::{Logits, ModelError};

fn logits<M: Forward>(m: &M, tokens: &[u32], mode: Mode) -> Result<Vec<f32>, ModelError> {
    let mut cache = m.new_cache(tokens.len())?;
    match mode {
        Mode::Batch => m.forward(&mut cache, tokens, Logits::All),
        Mode::Incremental => {
            let mut all = Vec::new();
            for &t in tokens {
                all.extend(m.forward(&mut cache, &[t], Logits::All)?);
            }
            Ok(all)
        }
    }
}

pub fn run(p: &GpuParams, ctx: &Ctx) -> super::Outcome {
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
    let reference = widen(&logits(&cpu, &tokens, p.mode).map_err(super::engine)?);
    let ours = widen(&logits(&gpu, &tokens, p.mode).map_err(super::engine)?);
    let value = rel_l2(&reference, &ours);
    let mode = match p.mode {
        Mode::Batch => "one batch",
        Mode::Incremental => "one token per call",
    };
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
