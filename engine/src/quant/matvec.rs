//! `y = W x` and `Y = W X` for a row-major quantized `W` (rows = output features, each row `cols`
//! inputs long: `W[i, j]` is element `j` of row `i`). Activations are quantized once per call to
//! the format the weight type's integer kernel expects; rows are split across rayon's threads.

use rayon::prelude::*;

use super::{dot, quantize, QuantError};
use crate::format::gguf::{GgmlType, TensorView};

/// Which implementation of the row dots to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable scalar code: the reference.
    Scalar,
    /// AVX2 + FMA + F16C.
    Avx2,
    /// AVX-512 F/BW/VL/VNNI for the integer formats (float formats use the AVX2 rows).
    Avx512,
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

    /// Ok if a CPU with `features` can run the kernel; the error names the first missing one.
    pub fn check_for(self, features: CpuFeatures) -> Result<(), QuantError> {
        let needs = match self {
            Kernel::Avx512 if crate::faults::is(crate::faults::Fault::Avx512ChecksOnlyF) => {
                &FEATURES[3..4]
            }
            _ => self.needs(),
        };
        match needs.iter().find(|f| !features.has(f)) {
            Some(missing) => Err(QuantError::KernelUnavailable {
                kernel: self,
                missing,
            }),
            None => Ok(()),
        }
    }
}

/// A row-major matrix of any dequantizable type, borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub struct QMatrix<'a> {
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    data: &'a [u8],
    row_bytes: usize,
}

impl<'a> QMatrix<'a> {
    pub fn new(ty: GgmlType, rows: usize, cols: usize, data: &'a [u8]) -> Result<Self, QuantError> {
        let shape = |detail: String| QuantError::Shape {
            ty,
            rows,
            cols,
            detail,
        };
        if !super::can_dequantize(ty) {
            return Err(QuantError::Unsupported { ty, op: "matvec" });
        }
        if !(cols as u64).is_multiple_of(ty.block_size()) {
            return Err(shape(format!(
                "cols must be a multiple of the block size {}",
                ty.block_size()
            )));
        }
        let row_bytes = cols / ty.block_size() as usize * ty.type_size() as usize;
        if row_bytes.checked_mul(rows) != Some(data.len()) {
            return Err(shape(format!(
                "{} bytes given, {row_bytes} per row",
                data.len()
            )));
        }
        Ok(QMatrix {
            ty,
            rows,
            cols,
            data,
            row_bytes,
        })
    }

    /// A 2-D GGUF tensor: ggml dims [ne0, ne1] are [cols, rows].
    pub fn from_gguf(t: TensorView<'a>) -> Result<Self, QuantError> {
        let ty = t.info.ggml_type;
        match t.info.dims[..] {
            [cols, rows] => Self::new(ty, rows as usize, cols as usize, t.data),
            [cols] => Self::new(ty, 1, cols as usize, t.data),
            ref dims => Err(QuantError::Shape {
                ty,
                rows: 0,
                cols: 0,
                detail: format!("'{}' has dims {dims:?}; a matrix has 1 or 2", t.info.name),
            }),
        }
    }

    pub fn row(&self, r: usize) -> &'a [u8] {
        &self.data[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }
}

/// How one weight type meets its activations.
#[derive(Clone, Copy)]
enum RowDot {
    /// Float weights against f32 activations.
    Float(fn(&[u8], &[f32]) -> f32),
    /// Integer kernel against activations quantized to `act`.
    Quant(GgmlType, fn(&[u8], &[u8]) -> f32),
    /// No direct kernel: dequantize the row, then a float dot.
    Dequant,
}

fn row_dot(ty: GgmlType, kernel: Kernel) -> RowDot {
    use GgmlType as T;
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx512 {
        // SAFETY: `Kernel::Avx512` is only used after `check()` confirmed AVX-512 F/BW/VL/VNNI as
        // well as AVX2, FMA and F16C.
        let avx512 = match ty {
            T::Q8_0 => Some(RowDot::Quant(T::Q8_0, |w, a| unsafe {
                super::simd512::q8_0_row(w, a)
            })),
            T::Q4_0 => Some(RowDot::Quant(T::Q8_0, |w, a| unsafe {
                super::simd512::q4_0_row(w, a)
            })),
            T::Q4_1 => Some(RowDot::Quant(T::Q8_1, |w, a| unsafe {
                super::simd512::q4_1_row(w, a)
            })),
            T::Q5_0 => Some(RowDot::Quant(T::Q8_0, |w, a| unsafe {
                super::simd512::q5_0_row(w, a)
            })),
            T::Q5_1 => Some(RowDot::Quant(T::Q8_1, |w, a| unsafe {
                super::simd512::q5_1_row(w, a)
            })),
            T::Q4_K => Some(RowDot::Quant(T::Q8_K, |w, a| unsafe {
                super::simd512::q4_k_row(w, a)
            })),
            T::Q5_K => Some(RowDot::Quant(T::Q8_K, |w, a| unsafe {
                super::simd512::q5_k_row(w, a)
            })),
            T::Q6_K => Some(RowDot::Quant(T::Q8_K, |w, a| unsafe {
                super::simd512::q6_k_row(w, a)
            })),
            _ => None,
        };
        return avx512.unwrap_or_else(|| row_dot(ty, Kernel::Avx2));
    }
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx2 {
        // SAFETY: `Kernel::Avx2` is only used after `check()` confirmed AVX2, FMA and F16C.
        return match ty {
            T::F32 => RowDot::Float(|w, x| unsafe { super::simd::f32_row(w, x) }),
            T::F16 => RowDot::Float(|w, x| unsafe { super::simd::f16_row(w, x) }),
            T::BF16 => RowDot::Float(|w, x| unsafe { super::simd::bf16_row(w, x) }),
            T::Q8_0 => RowDot::Quant(T::Q8_0, |w, a| unsafe { super::simd::q8_0_row(w, a) }),
            T::Q4_0 => RowDot::Quant(T::Q8_0, |w, a| unsafe { super::simd::q4_0_row(w, a) }),
            T::Q4_1 => RowDot::Quant(T::Q8_1, |w, a| unsafe { super::simd::q4_1_row(w, a) }),
            T::Q5_0 => RowDot::Quant(T::Q8_0, |w, a| unsafe { super::simd::q5_0_row(w, a) }),
            T::Q5_1 => RowDot::Quant(T::Q8_1, |w, a| unsafe { super::simd::q5_1_row(w, a) }),
            T::Q4_K => RowDot::Quant(T::Q8_K, |w, a| unsafe { super::simd::q4_k_row(w, a) }),
            T::Q5_K => RowDot::Quant(T::Q8_K, |w, a| unsafe { super::simd::q5_k_row(w, a) }),
            T::Q6_K => RowDot::Quant(T::Q8_K, |w, a| unsafe { super::simd::q6_k_row(w, a) }),
            _ => RowDot::Dequant,
        };
    }
    let _ = kernel;
    match ty {
        T::F32 => RowDot::Float(dot::f32_row),
        T::F16 => RowDot::Float(dot::f16_row),
        T::BF16 => RowDot::Float(dot::bf16_row),
        T::Q8_0 => RowDot::Quant(T::Q8_0, dot::q8_0_row),
        T::Q4_0 => RowDot::Quant(T::Q8_0, dot::q4_0_row),
        T::Q4_1 => RowDot::Quant(T::Q8_1, dot::q4_1_row),
        T::Q5_0 => RowDot::Quant(T::Q8_0, dot::q5_0_row),
        T::Q5_1 => RowDot::Quant(T::Q8_1, dot::q5_1_row),
        T::Q4_K => RowDot::Quant(T::Q8_K, dot::q4_k_row),
        T::Q5_K => RowDot::Quant(T::Q8_K, dot::q5_k_row),
        T::Q6_K => RowDot::Quant(T::Q8_K, dot::q6_k_row),
        _ => RowDot::Dequant,
    }
}

/// Rows per rayon task: a few tasks per thread, so scheduling costs little and the threads
/// still balance; never fewer than 16 rows.
fn rows_per_task(rows: usize) -> usize {
    rows.div_ceil(4 * rayon::current_num_threads()).max(16)
}

/// `y = W x`.
pub fn matvec(w: &QMatrix, x: &[f32], y: &mut [f32], kernel: Kernel) -> Result<(), QuantError> {
    matmul(w, x, 1, y, kernel)
}

/// `Y = W X` for `n` activation vectors: `x` is `[n, cols]` and `y` is `[n, rows]`, both
/// row-major (one vector per token). Each weight row is streamed from memory once per call and
/// reused from cache for every vector.
pub fn matmul(
    w: &QMatrix,
    x: &[f32],
    n: usize,
    y: &mut [f32],
    kernel: Kernel,
) -> Result<(), QuantError> {
    kernel.check()?;
    if x.len() != n * w.cols {
        return Err(QuantError::Length {
            what: "matmul input",
            expected: n * w.cols,
            got: x.len(),
        });
    }
    if y.len() != n * w.rows {
        return Err(QuantError::Length {
            what: "matmul output",
            expected: n * w.rows,
            got: y.len(),
        });
    }
    if n == 0 {
        return Ok(());
    }
    if w.ty == GgmlType::F32
        && w.rows == w.cols
        && crate::faults::is(crate::faults::Fault::TransposeWeight)
    {
        return transposed_f32(w, x, n, y);
    }
    let dot = row_dot(w.ty, kernel);
    let acts = match dot {
        RowDot::Quant(act, _) => quantize_activations(act, x, w.cols)?,
        _ => Vec::new(),
    };
    let act_len = acts.len() / n;
    let RowDot::Float(f32_dot) = row_dot(GgmlType::F32, kernel) else {
        unreachable!("F32 weights always have a float kernel")
    };
    // Computed transposed ([rows, n]) so each task owns contiguous output, then scattered.
    let mut yt = vec![0.0f32; w.rows * n];
    let per_task = rows_per_task(w.rows);
    yt.par_chunks_mut(per_task * n)
        .enumerate()
        .try_for_each(|(task, out)| {
            if out.len() < per_task * n
                && crate::faults::is(crate::faults::Fault::SplitDropsPartialTask)
            {
                return Ok(());
            }
            let mut scratch = Vec::new();
            for (i, out_row) in out.chunks_exact_mut(n).enumerate() {
                let row = w.row(task * per_task + i);
                if let RowDot::Dequant = dot {
                    scratch.resize(w.cols, 0.0);
                    super::dequantize(w.ty, row, &mut scratch)?;
                }
                for (t, o) in out_row.iter_mut().enumerate() {
                    let xv = &x[t * w.cols..(t + 1) * w.cols];
                    *o = match dot {
                        RowDot::Float(f) => f(row, xv),
                        RowDot::Quant(_, f) => f(row, &acts[t * act_len..(t + 1) * act_len]),
                        RowDot::Dequant => f32_dot(bytemuck::cast_slice(&scratch), xv),
                    };
                }
            }
            Ok::<(), QuantError>(())
        })?;
    for (r, vals) in yt.chunks_exact(n).enumerate() {
        for (t, &v) in vals.iter().enumerate() {
            y[t * w.rows + r] = v;
        }
    }
    Ok(())
}

/// Each of the `x.len() / cols` vectors quantized once to `act`, as llama.cpp's x86 backend
/// quantizes activations (Q8_0 and Q8_1 by its SIMD rule, Q8_K by ggml's reference).
fn quantize_activations(act: GgmlType, x: &[f32], cols: usize) -> Result<Vec<u8>, QuantError> {
    let per = cols / act.block_size() as usize * act.type_size() as usize;
    let mut q = vec![0u8; x.len() / cols * per];
    for (xv, qv) in x.chunks_exact(cols).zip(q.chunks_exact_mut(per)) {
        match act {
            GgmlType::Q8_0 | GgmlType::Q8_1
                if !crate::faults::is(crate::faults::Fault::ReferenceActivationRounding) =>
            {
                let bs = act.block_size() as usize;
                let ts = act.type_size() as usize;
                for (xb, qb) in xv.chunks_exact(bs).zip(qv.chunks_exact_mut(ts)) {
                    super::quantize::q8_x86(xb, qb, act == GgmlType::Q8_1);
                }
            }
            _ => quantize(act, xv, qv)?,
        }
    }
    Ok(q)
}

/// The transpose-weight fault: a square F32 matrix read column-major.
fn transposed_f32(w: &QMatrix, x: &[f32], n: usize, y: &mut [f32]) -> Result<(), QuantError> {
    let m = super::dequantize_to_vec(GgmlType::F32, w.bytes())?;
    for t in 0..n {
        for i in 0..w.rows {
            y[t * w.rows + i] = (0..w.cols)
                .map(|j| m[j * w.cols + i] * x[t * w.cols + j])
                .sum();
        }
    }
    Ok(())
}
