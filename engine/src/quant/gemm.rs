//! Prefill's matrix products: a tile of `R` weight rows against `T` tokens at a time, so that
//! each weight block is decoded once for a whole token chunk and each activation loaded once for
//! `R` rows, where the row dots decode and load both again for every (row, token) pair. Prefill
//! is compute-bound (each weight row is streamed once per batch), so this is where its time goes.
//!
//! A tile kernel computes, for every (row, token) pair and every block, the same exact integer
//! sum as its instruction set's row dot and then the same float operations in the same order:
//! its results equal the row dot's bit for bit, so a batch and one token at a time agree
//! exactly, and the row dots are the tested reference they are held to. Rows and tokens left
//! over from whole tiles go through the row dot itself.

use super::QMatrix;

/// One task's tiled product: rows `first..first + out.len() / n` of `w` against the `n` tokens'
/// activations (`acts`, one vector per token, back to back: quantized as the row dot takes
/// them, or the f32 values' bytes for float weights), into `out` as
/// `[n, rows]` (the task's rows for each token, as the caller gathers them). A tile writes its
/// results token by token (`y[j][i]` for token j, row i), so that each token's are one run of
/// `out`.
pub(crate) type Gemm = fn(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]);

/// Tokens per pass over a task's rows: as many as keep their activations within `BUDGET` bytes
/// (half of one core's L2 here), so that each tile's activations come from L2 while its weight
/// rows stay in L1. A whole number of token tiles, and at least one.
fn token_chunk(act_len: usize, tile: usize) -> usize {
    const BUDGET: usize = 512 * 1024;
    (BUDGET / act_len.max(1) / tile).max(1) * tile
}

/// Runs `tile` over every whole `R` x `T` tile of the task and `row` over the pairs left over:
/// the last `rows % R` rows (a task's row count need not divide by `R`) and each row tile's last
/// tokens of a chunk. The tiles read their weight rows from a panel: `pack` decodes a row tile's
/// blocks (levels, scales) once per token chunk into `panel`, in the order the tile reads them,
/// which every token tile of the chunk then reads. `prep` does the same for each token tile's
/// activations (scales, sums), once per chunk, into a run of equal length per tile. The tile
/// also gets the raw rows and activations.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive_packed<const R: usize, const T: usize, P>(
    w: &QMatrix,
    first: usize,
    acts: &[u8],
    n: usize,
    out: &mut [f32],
    pack: impl Fn(&[&[u8]; R], &mut Vec<P>),
    prep: impl Fn(&[&[u8]; T], &mut Vec<P>),
    tile: impl Fn(&[P], &[P], &[&[u8]; R], &[&[u8]; T], &mut [[f32; R]; T]),
    row: impl Fn(&[u8], &[u8]) -> f32,
) {
    let rows = out.len() / n;
    let act_len = acts.len() / n;
    let act = |t: usize| &acts[t * act_len..(t + 1) * act_len];
    let chunk = token_chunk(act_len, T);
    let (mut panel, mut side) = (Vec::new(), Vec::new());
    for t0 in (0..n).step_by(chunk) {
        let t_end = (t0 + chunk).min(n);
        let tiles = (t_end - t0) / T;
        let tokens = |k: usize| -> [&[u8]; T] { std::array::from_fn(|j| act(t0 + k * T + j)) };
        side.clear();
        for k in 0..tiles {
            prep(&tokens(k), &mut side);
        }
        let per_tile = side.len() / tiles.max(1);
        let whole_rows = rows / R * R;
        for r in (0..whole_rows).step_by(R) {
            let ws: [&[u8]; R] = std::array::from_fn(|i| w.row(first + r + i));
            panel.clear();
            pack(&ws, &mut panel);
            // The next row tile's weights, a share per token tile: packing reads them next,
            // and a read from memory there stalled it (a tenth of Q4_K_M prefill).
            let next = w
                .bytes()
                .get((first + r + R) * w.row_bytes()..)
                .unwrap_or_default();
            let next = &next[..next.len().min(R * w.row_bytes())];
            let share = next.len().div_ceil(tiles.max(1));
            for k in 0..tiles {
                prefetch(next.get(k * share..).unwrap_or_default(), share);
                let mut y = [[0.0f32; R]; T];
                let sk = &side[k * per_tile..(k + 1) * per_tile];
                tile(&panel, sk, &ws, &tokens(k), &mut y);
                let t = t0 + k * T;
                for (j, yj) in y.iter().enumerate() {
                    out[(t + j) * rows + r..][..R].copy_from_slice(yj);
                }
            }
            for t in t0 + tiles * T..t_end {
                for (i, wr) in ws.iter().enumerate() {
                    out[t * rows + r + i] = row(wr, act(t));
                }
            }
        }
        for r in whole_rows..rows {
            let wr = w.row(first + r);
            for t in t0..t_end {
                out[t * rows + r] = row(wr, act(t));
            }
        }
    }
}

/// Asks for the first `len` bytes of `bytes` (as many as it has) in cache, one line at a time.
#[inline(always)]
fn prefetch(bytes: &[u8], len: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..len.min(bytes.len())).step_by(64) {
        // SAFETY: SSE is part of x86-64; a prefetch reads nothing and cannot fault.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().add(line) as *const i8);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::GgmlType;

    #[test]
    fn token_chunks_are_whole_tiles_within_the_budget() {
        assert_eq!(token_chunk(1 << 30, 4), 4);
        assert_eq!(token_chunk(6 * 1024, 4), 84);
        assert_eq!(token_chunk(6 * 1024, 3), 84);
        assert_eq!(token_chunk(0, 4) % 4, 0);
    }

    /// The driver covers every (row, token) pair exactly once, with whole tiles where they fit
    /// and the row function elsewhere, on shapes that divide by neither tile side, and across
    /// token chunks (256 KiB of "activations" per token: one tile of 2 tokens per chunk).
    #[test]
    fn the_driver_covers_every_pair_once() {
        let cols = 32;
        for (rows, n, act_len) in [(7, 5, 8), (4, 4, 8), (3, 17, 8), (9, 6, 256 * 1024)] {
            let data = vec![0u8; rows * cols * 4];
            let w = QMatrix::validated(GgmlType::F32, rows, cols, &data);
            // Token t's activations are the byte t repeated; row r is found by its address.
            let acts: Vec<u8> = (0..n).flat_map(|t| vec![t as u8; act_len]).collect();
            let first = 1.min(rows - 1);
            let task_rows = rows - first;
            let mut out = vec![-1.0f32; task_rows * n];
            let row_of = |wr: &[u8]| (wr.as_ptr() as usize - data.as_ptr() as usize) / (4 * cols);
            drive_packed::<3, 2, usize>(
                &w,
                first,
                &acts,
                n,
                &mut out,
                // The panel holds the rows, the prepared data the tokens.
                |ws, panel| panel.extend(ws.iter().map(|wr| row_of(wr))),
                |a, side| side.extend(a.iter().map(|at| usize::from(at[0]))),
                |panel, side, ws, a, y| {
                    assert_eq!(panel, ws.map(row_of));
                    assert_eq!(side, a.map(|at| usize::from(at[0])));
                    for (i, wr) in ws.iter().enumerate() {
                        for (j, at) in a.iter().enumerate() {
                            y[j][i] = (1000 * row_of(wr) + usize::from(at[0])) as f32 + 0.5;
                        }
                    }
                },
                |wr, at| (1000 * row_of(wr) + usize::from(at[0])) as f32,
            );
            for r in 0..task_rows {
                for t in 0..n {
                    let v = out[t * task_rows + r];
                    assert_eq!(
                        v.trunc(),
                        (1000 * (first + r) + t) as f32,
                        "{rows}x{n}: row {r} token {t}"
                    );
                    // Whole tiles went through the tile function (the .5 mark), the rest not.
                    let in_tile = r < task_rows / 3 * 3;
                    let chunk = token_chunk(act_len, 2);
                    let in_whole_tokens = (t % chunk) < (n - t / chunk * chunk).min(chunk) / 2 * 2;
                    assert_eq!(v.fract() == 0.5, in_tile && in_whole_tokens, "{r} {t}");
                }
            }
        }
    }
}
