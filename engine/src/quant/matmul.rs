//! `y = W x` and `Y = W X` for a row-major quantized `W` (rows = output features, each row `cols`
//! inputs long: `W[i, j]` is element `j` of row `i`). Activations are quantized once per input
//! (`Input`, which several products of one input share) to the format the weight type's integer
//! kernel expects; rows are split across rayon's threads.
//! Which row dot runs comes from the dispatch table in `types/`.

use rayon::prelude::*;

use super::kernel::CheckedKernel;
use super::packed::GROUP;
use super::types::{self, q8_0, Row};
use super::{GgmlType, Kernel, QMatrix, QuantError};
use crate::faults::{self, Fault};

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
/// reused from cache for every vector. A kernel this CPU cannot run is an error.
pub fn matmul(
    w: &QMatrix,
    x: &[f32],
    n: usize,
    y: &mut [f32],
    kernel: Kernel,
) -> Result<(), QuantError> {
    matmul_checked(w, x, n, y, kernel.checked()?)
}

/// One input of several matrix products (Q, K and V of one normed input; gate and up): `n`
/// vectors, quantized at most once per activation format their row dots take, however many
/// products read it.
pub(crate) struct Input<'a> {
    x: &'a [f32],
    n: usize,
    quantized: Vec<(GgmlType, Vec<u8>)>,
}

impl<'a> Input<'a> {
    pub(crate) fn new(x: &'a [f32], n: usize) -> Self {
        Input {
            x,
            n,
            quantized: Vec::new(),
        }
    }

    /// The vectors quantized to `act`: the first time, then kept. Only for `n > 0`.
    fn quantized(&mut self, act: GgmlType) -> Result<&[u8], QuantError> {
        let at = match self.quantized.iter().position(|(ty, _)| *ty == act) {
            Some(at) => at,
            None => {
                let q = quantize_activations(act, self.x, self.x.len() / self.n)?;
                self.quantized.push((act, q));
                self.quantized.len() - 1
            }
        };
        Ok(&self.quantized[at].1)
    }
}

/// `matmul` on a kernel checked before (a loaded model's, checked once at load).
pub(crate) fn matmul_checked(
    w: &QMatrix,
    x: &[f32],
    n: usize,
    y: &mut [f32],
    kernel: CheckedKernel,
) -> Result<(), QuantError> {
    matmul_input(w, &mut Input::new(x, n), y, kernel)
}

/// `matmul_checked` of an input that other products may share.
pub(crate) fn matmul_input(
    w: &QMatrix,
    input: &mut Input,
    y: &mut [f32],
    kernel: CheckedKernel,
) -> Result<(), QuantError> {
    let kernel = kernel.kernel();
    let (x, n) = (input.x, input.n);
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
    if let Some(done) = faults::transpose_weight(w, x, n, y) {
        return done;
    }
    // No entry (a type QMatrix::new refused) or no row dot: rows are dequantized, which reports
    // a type it cannot decode.
    let entry = types::entry(w.ty);
    let dot = entry.and_then(|e| e.row(kernel));
    let acts: &[u8] = match (entry, dot) {
        (Some(e), Some(Row::Quant(_))) => input.quantized(e.vec_dot_type)?,
        _ => &[],
    };
    let act_len = acts.len() / n;
    let Some(Row::Float(f32_dot)) = types::entry(GgmlType::F32).and_then(|e| e.row(kernel)) else {
        unreachable!("F32 weights always have a float kernel")
    };
    // Several tokens take the tiled product where the kernel has one for the type, on what the
    // row dot takes: the quantized activations, or the f32 ones (as bytes) for float weights.
    let tile = entry.and_then(|e| e.tile(kernel)).filter(|_| n > 1);
    let tile_acts: &[u8] = match dot {
        Some(Row::Float(_)) => bytemuck::cast_slice(x),
        _ => acts,
    };
    // One token over the rows packed at load for this kernel (`packed.rs`): whole groups per
    // task. It gives the row dot's bits, faster.
    let packed = w
        .packed()
        .filter(|p| n == 1 && p.kernel() == kernel && matches!(dot, Some(Row::Quant(_))));
    // Each task owns a contiguous run of the output: its rows for every token (`[n, rows]` of
    // its own), copied into place after.
    let mut yt = vec![0.0f32; w.rows * n];
    let per_task = match packed {
        Some(_) => rows_per_task(w.rows).next_multiple_of(GROUP),
        None => rows_per_task(w.rows),
    };
    yt.par_chunks_mut(per_task * n)
        .enumerate()
        .try_for_each(|(task, out)| {
            if faults::split_drops_partial_task(out.len() < per_task * n) {
                return Ok(());
            }
            if let Some(gemm) = tile {
                gemm(w, task * per_task, tile_acts, n, out);
                return Ok(());
            }
            let rows = out.len() / n;
            let first = task * per_task;
            let mut done = 0;
            if let Some(p) = packed {
                let groups = out.len().min(p.rows().saturating_sub(first)) / GROUP;
                p.run(first / GROUP, groups, acts, out);
                done = groups * GROUP;
            }
            let mut scratch = Vec::new();
            for i in done..rows {
                let row = w.row(first + i);
                if dot.is_none() {
                    scratch.resize(w.cols, 0.0);
                    super::dequantize(w.ty, row, &mut scratch)?;
                }
                for t in 0..n {
                    let xv = &x[t * w.cols..(t + 1) * w.cols];
                    out[t * rows + i] = match dot {
                        Some(Row::Float(f)) => f(row, xv),
                        Some(Row::Quant(f)) => f(row, &acts[t * act_len..(t + 1) * act_len]),
                        None => f32_dot(bytemuck::cast_slice(&scratch), xv),
                    };
                }
            }
            Ok::<(), QuantError>(())
        })?;
    if n == 1 {
        y.copy_from_slice(&yt);
    } else {
        gather_tasks(&yt, n, w.rows, per_task, y);
    }
    Ok(())
}

/// `y` as `[n, rows]` from the tasks' outputs in `yt`: task k's rows k * per_task.. for every
/// token, `[n, its rows]`, one after another. Each token's run of a task is one copy.
fn gather_tasks(yt: &[f32], n: usize, rows: usize, per_task: usize, y: &mut [f32]) {
    y.par_chunks_mut(rows).enumerate().for_each(|(t, y_row)| {
        for (k, task) in yt.chunks(per_task * n).enumerate() {
            let task_rows = task.len() / n;
            y_row[k * per_task..][..task_rows].copy_from_slice(&task[t * task_rows..][..task_rows]);
        }
    });
}

/// Each of the `x.len() / cols` vectors quantized once to `act`, as llama.cpp's x86 backend
/// quantizes activations (Q8_0 and Q8_1 by its SIMD rule, Q8_K by ggml's reference).
fn quantize_activations(act: GgmlType, x: &[f32], cols: usize) -> Result<Vec<u8>, QuantError> {
    let per = cols / act.block_size() as usize * act.type_size() as usize;
    let mut q = vec![0u8; x.len() / cols * per];
    // Token by token on the pool's threads: a prefill's activations are a serial pass otherwise.
    x.par_chunks_exact(cols)
        .zip(q.par_chunks_exact_mut(per))
        .try_for_each(|(xv, qv)| {
            match act {
                GgmlType::Q8_0 | GgmlType::Q8_1
                    if !faults::is(Fault::ReferenceActivationRounding) =>
                {
                    let bs = act.block_size() as usize;
                    let ts = act.type_size() as usize;
                    for (xb, qb) in xv.chunks_exact(bs).zip(qv.chunks_exact_mut(ts)) {
                        q8_0::quantize_x86(xb, qb, act == GgmlType::Q8_1);
                    }
                }
                _ => super::quantize(act, xv, qv)?,
            }
            Ok::<(), QuantError>(())
        })?;
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Products of one shared input quantize it once per activation format (Q4_K and Q6_K both
    /// take Q8_K, Q8_0 takes Q8_0) and give each product's result bit for bit as computed alone.
    #[test]
    fn a_shared_input_is_quantized_once_per_format_and_changes_no_result() {
        let (rows, cols, n) = (19, 512, 5);
        let mut state = 3u32;
        let mut next = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let x: Vec<f32> = (0..n * cols).map(|_| next()).collect();
        let weights: Vec<f32> = (0..rows * cols).map(|_| next()).collect();
        let kernel = Kernel::best().checked().unwrap();
        let mut input = Input::new(&x, n);
        for ty in [GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0] {
            let per_row = cols / ty.block_size() as usize * ty.type_size() as usize;
            let mut bytes = vec![0u8; rows * per_row];
            crate::quant::quantize(ty, &weights, &mut bytes).unwrap();
            let w = QMatrix::new(ty, rows, cols, &bytes).unwrap();
            let (mut shared, mut alone) = (vec![0.0; n * rows], vec![0.0; n * rows]);
            matmul_input(&w, &mut input, &mut shared, kernel).unwrap();
            matmul_checked(&w, &x, n, &mut alone, kernel).unwrap();
            assert_eq!(
                shared.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                alone.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{ty}"
            );
        }
        let formats: Vec<GgmlType> = input.quantized.iter().map(|(ty, _)| *ty).collect();
        assert_eq!(formats, [GgmlType::Q8_K, GgmlType::Q8_0]);
    }
}
