//! GPU against CPU logits. This build has no GPU backend (the CUDA issue is blocked: no GPU
//! was lent to it), so the check reports that it did not run.

use super::Measurement;
use crate::contract::{Obligation, Requirement};

pub fn run(o: &Obligation) -> Measurement {
    let backend = o.params.backend.as_deref().unwrap_or("cuda");
    Measurement::Unavailable(
        Requirement::Gpu,
        format!("no {backend} backend in this build of realizar"),
    )
}
