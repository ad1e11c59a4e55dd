//! GPU against CPU logits. This build has no GPU backend (the CUDA issue is blocked: no GPU
//! was lent to it), so the check reports that it did not run.

use super::Measurement;
use crate::contract::{GpuParams, Requirement};

pub fn run(p: &GpuParams) -> Measurement {
    Measurement::Unavailable(
        Requirement::Gpu,
        format!("no {} backend in this build of realizar", p.backend.name()),
    )
}
