//! One test body on every backend (candle's `test_device!` idea): `backend_tests!` makes a
//! `cpu` and a `gpu` test of each body. The GPU variant fails when this machine has no adapter
//! (NOT RUN is not a pass), unless REALIZAR_NO_GPU=1 says to skip it knowingly; CI and
//! `make verify` install Mesa's lavapipe, so there it always runs.

use realizar::backend::{gpu_adapter, BackendKind, Runtime};
use realizar::quant::Kernel;

/// Whether the GPU variant runs: true with an adapter; false (said on stderr) with
/// REALIZAR_NO_GPU=1; a failure otherwise.
pub fn gpu_or_skip() -> bool {
    match gpu_adapter() {
        Ok(a) => {
            eprintln!("gpu: {} ({}, {})", a.name, a.backend, a.device_type);
            true
        }
        Err(e) if std::env::var("REALIZAR_NO_GPU").as_deref() == Ok("1") => {
            eprintln!("NOT RUN (REALIZAR_NO_GPU=1): {e}");
            false
        }
        Err(e) => panic!(
            "the GPU variant of this test has no GPU: {e}. Install Mesa's lavapipe \
             (apt-get install mesa-vulkan-drivers) or set REALIZAR_NO_GPU=1 to skip it knowingly"
        ),
    }
}

/// A model file on `backend`. Every golden family runs on the GPU, so a refusal there
/// (`GpuError::Unsupported`) fails the test like any other load error.
pub fn load(path: &std::path::Path, backend: BackendKind) -> Runtime {
    Runtime::load(path, Kernel::best(), backend)
        .unwrap_or_else(|e| panic!("{} on {}: {e}", path.display(), backend.name()))
}

/// `backend_tests! { fn name(backend) { .. } }`: tests `name::cpu` and `name::gpu`, each
/// running the body with its `realizar::backend::BackendKind`.
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$meta:meta])* fn $name:ident($backend:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn body($backend: realizar::backend::BackendKind) $body

                #[test]
                fn cpu() {
                    body(realizar::backend::BackendKind::Cpu)
                }

                #[test]
                fn gpu() {
                    if $crate::common::backends::gpu_or_skip() {
                        body(realizar::backend::BackendKind::Gpu)
                    }
                }
            }
        )*
    };
}
