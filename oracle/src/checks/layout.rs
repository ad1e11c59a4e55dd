//! LAYOUT-002: row-major weights. With W[i, j] = i * cols + j, multiplying by the unit vector
//! e_j must give column j; a square and a non-square F32 matrix, through the kernels. With
//! `types`, also every listed weight type on every kernel this CPU runs: a seeded random matrix
//! of 37 rows (prime, above the 16-row task minimum: tasks of 16, 16 and 5 rows) and an odd number of blocks per row, quantized,
//! then W e_j against column j of its dequantization (within 1% of the row's largest value: the
//! activation 1.0 itself is quantized for the integer kernels).

use crate::contract::TypeName;
use realizar::format::gguf::GgmlType;
use realizar::quant::{dequantize_to_vec, matvec, quantize, Kernel, QMatrix};

/// Outputs of W e_j, for the columns that matter most to a layout bug, that are not column j.
fn wrong_columns(
    w: &[f32],
    bytes: &[u8],
    ty: GgmlType,
    rows: usize,
    cols: usize,
    kernel: Kernel,
    exact: bool,
) -> Result<usize, super::Failure> {
    let m = QMatrix::new(ty, rows, cols, bytes).map_err(super::engine)?;
    let mut wrong = 0;
    for j in [0, 1, cols / 2, cols - 1] {
        let mut x = vec![0.0f32; cols];
        x[j] = 1.0;
        let mut y = vec![0.0f32; rows];
        matvec(&m, &x, &mut y, kernel).map_err(super::engine)?;
        wrong += (0..rows)
            .filter(|&i| {
                let want = w[i * cols + j];
                if exact {
                    y[i] != want
                } else {
                    // Relative to the row's scale: Q4_1/Q5_1 rows meet the activation's scale
                    // twice (d * sum and m * s, rounded apart), so a value near zero carries
                    // an error of about 1e-4 of the row; another column is off by the row itself.
                    let scale = w[i * cols..(i + 1) * cols]
                        .iter()
                        .fold(0.0f32, |m, v| m.max(v.abs()));
                    (y[i] - want).abs() > 1e-2 * scale
                }
            })
            .count();
    }
    Ok(wrong)
}

pub fn run(types: &[TypeName]) -> super::Outcome {
    let mut wrong = 0usize;
    for (rows, cols) in [(64usize, 64usize), (7, 512)] {
        let w: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
        wrong += wrong_columns(&w, &bytes, GgmlType::F32, rows, cols, Kernel::best(), true)?;
    }
    let mut cases = 2;
    let kernels = Kernel::available();
    let mut state = 0x1a_0002_u64;
    for &TypeName(ty) in types {
        let rows = 37;
        let cols = ty.block_size() as usize * if ty.block_size() > 32 { 3 } else { 7 };
        let x: Vec<f32> = (0..rows * cols)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect();
        let mut bytes = vec![0u8; ty.bytes_for((rows * cols) as u64).unwrap_or(0) as usize];
        quantize(ty, &x, &mut bytes).map_err(super::engine)?;
        let w = dequantize_to_vec(ty, &bytes).map_err(super::engine)?;
        for &kernel in &kernels {
            wrong += wrong_columns(&w, &bytes, ty, rows, cols, kernel, false)?;
            cases += 1;
        }
    }
    Ok((
        wrong as f64,
        format!(
            "{wrong} outputs differ from W[i, j] at i * cols + j ({cases} matrix x kernel cases; kernels {})",
            kernels.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
        ),
    ))
}
