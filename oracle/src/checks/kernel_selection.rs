//! Kernel selection on every simulated CPU: each subset of the features the SIMD kernels check,
//! whatever this machine has (selection is pure logic; running a kernel is LAYOUT-002's and the
//! parity contracts' business). The expected choice is written here from the
//! instruction sets each kernel executes (not read from `Kernel::needs`, the code under test):
//! the fastest kernel whose features are all present is chosen, every kernel missing one is
//! refused when asked for by name, and the refusal names a missing feature.

use realizar::quant::{CpuFeatures, Kernel, FEATURES};

/// What each kernel's instructions need, fastest first.
const NEEDS: [(Kernel, &[&str]); 2] = [
    (
        Kernel::Avx512,
        &[
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
        ],
    ),
    (Kernel::Avx2, &["avx2", "fma", "f16c"]),
];

pub fn run() -> super::Outcome {
    let (mut wrong, mut first) = (0usize, None);
    for mask in 0u32..1 << FEATURES.len() {
        let on: Vec<&str> = FEATURES
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, f)| *f)
            .collect();
        let Ok(features) = CpuFeatures::only(&on) else {
            wrong += 1;
            continue;
        };
        let runs = |needs: &[&str]| needs.iter().all(|f| features.has(f));
        let expected = NEEDS
            .iter()
            .find(|(_, needs)| runs(needs))
            .map_or(Kernel::Scalar, |(k, _)| *k);
        let mut bad = Vec::new();
        if Kernel::best_for(features) != expected {
            bad.push(format!(
                "chose {} where {} is the fastest it runs",
                Kernel::best_for(features).name(),
                expected.name()
            ));
        }
        for (kernel, needs) in NEEDS {
            match (runs(needs), kernel.check_for(features)) {
                (true, Err(e)) => bad.push(format!("refused {}: {e}", kernel.name())),
                (false, Ok(())) => bad.push(format!("offered {}", kernel.name())),
                (false, Err(e))
                    if !needs
                        .iter()
                        .any(|f| !features.has(f) && e.to_string().contains(f)) =>
                {
                    bad.push(format!(
                        "refused {} without naming what is missing: {e}",
                        kernel.name()
                    ))
                }
                _ => {}
            }
        }
        if Kernel::Scalar.check_for(features).is_err() {
            bad.push("refused the scalar kernel".into());
        }
        if !bad.is_empty() {
            wrong += 1;
            first.get_or_insert_with(|| {
                format!("a CPU with [{}]: {}", on.join(" "), bad.join("; "))
            });
        }
    }
    Ok((
        wrong as f64,
        format!(
            "{wrong} of {} simulated CPUs choose or refuse wrongly{}",
            1 << FEATURES.len(),
            first.map_or(String::new(), |f| format!("; first: {f}"))
        ),
    ))
}
