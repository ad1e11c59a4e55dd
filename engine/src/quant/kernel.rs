//! Which instruction set runs the row dots: the CPU features the SIMD kernels need, as this CPU
//! reports them (or masked, to see what a smaller CPU would get), and the choice and check of a
//! kernel. A kernel that was asked for and cannot run is an error, never a silent fallback.

use super::QuantError;

/// Which implementation of the row dots to run, narrowest first: the dispatch table in `types/`
/// indexes its rows by `kernel as usize` and falls back from a kernel to the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable scalar code: the reference.
    Scalar,
    /// AVX2 + FMA + F16C.
    Avx2,
    /// AVX-512 F/BW/VL/VNNI for the integer formats (float formats use the AVX2 rows).
    Avx512,
}

/// A kernel checked once to run on this CPU (`Kernel::checked`): what a loaded model keeps, so
/// its matrix products (`matmul_checked`) need not check it again on every call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CheckedKernel(Kernel);

impl CheckedKernel {
    pub(crate) fn kernel(self) -> Kernel {
        self.0
    }
}

/// The CPU features the SIMD kernels need: as this CPU reports them, or with some masked off to
/// see what would be chosen on a smaller CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuFeatures {
    present: [bool; FEATURES.len()],
}

/// Every feature a kernel checks, in the order `CpuFeatures` keeps them.
pub const FEATURES: [&str; 7] = [
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512vnni",
];

impl CpuFeatures {
    /// What this CPU reports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        let present = [
            is_x86_feature_detected!("avx2"),
            is_x86_feature_detected!("fma"),
            is_x86_feature_detected!("f16c"),
            is_x86_feature_detected!("avx512f"),
            is_x86_feature_detected!("avx512bw"),
            is_x86_feature_detected!("avx512vl"),
            is_x86_feature_detected!("avx512vnni"),
        ];
        #[cfg(not(target_arch = "x86_64"))]
        let present = [false; FEATURES.len()];
        CpuFeatures { present }
    }

    /// A simulated CPU with exactly the features `names`; a name that is not a feature is an
    /// error.
    pub fn only(names: &[&str]) -> Result<Self, QuantError> {
        let mut cpu = CpuFeatures {
            present: [false; FEATURES.len()],
        };
        for name in names {
            cpu.present[Self::index(name)?] = true;
        }
        Ok(cpu)
    }

    /// The same features with `names` masked off; a name that is not a feature is an error.
    pub fn without(mut self, names: &[&str]) -> Result<Self, QuantError> {
        for name in names {
            self.present[Self::index(name)?] = false;
        }
        Ok(self)
    }

    fn index(name: &str) -> Result<usize, QuantError> {
        FEATURES
            .iter()
            .position(|f| *f == name)
            .ok_or_else(|| QuantError::UnknownFeature(name.to_string()))
    }

    pub fn has(&self, name: &str) -> bool {
        FEATURES
            .iter()
            .zip(self.present)
            .any(|(f, present)| *f == name && present)
    }
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn best() -> Self {
        Self::best_for(CpuFeatures::detect())
    }

    /// The fastest kernel a CPU with `features` runs.
    pub fn best_for(features: CpuFeatures) -> Self {
        [Kernel::Avx512, Kernel::Avx2]
            .into_iter()
            .find(|k| k.check_for(features).is_ok())
            .unwrap_or(Kernel::Scalar)
    }

    /// Every kernel this CPU runs, the reference first.
    pub fn available() -> Vec<Self> {
        let features = CpuFeatures::detect();
        Self::ALL
            .into_iter()
            .filter(|k| k.check_for(features).is_ok())
            .collect()
    }

    pub const ALL: [Kernel; 3] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512];

    /// The name `--kernel` takes: scalar, avx2, avx512.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The CPU features the kernel needs.
    pub fn needs(self) -> &'static [&'static str] {
        match self {
            Kernel::Scalar => &[],
            Kernel::Avx2 => &FEATURES[..3],
            Kernel::Avx512 => &FEATURES,
        }
    }

    /// Ok if this CPU can run the kernel; a kernel that was asked for and cannot run is an error,
    /// never a silent fallback.
    pub fn check(self) -> Result<(), QuantError> {
        self.check_for(CpuFeatures::detect())
    }

    /// The kernel, checked to run on this CPU; the error is `check`'s.
    pub(crate) fn checked(self) -> Result<CheckedKernel, QuantError> {
        self.check()?;
        Ok(CheckedKernel(self))
    }

    /// Ok if a CPU with `features` can run the kernel; the error names the first missing one.
    pub fn check_for(self, features: CpuFeatures) -> Result<(), QuantError> {
        let needs = crate::faults::avx512_checks_only_f(self == Kernel::Avx512, self.needs());
        match needs.iter().find(|f| !features.has(f)) {
            Some(missing) => Err(QuantError::KernelUnavailable {
                kernel: self,
                missing,
            }),
            None => Ok(()),
        }
    }
}
