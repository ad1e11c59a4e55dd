//! LAYOUT-002: row-major weights. With W[i, j] = i * cols + j, multiplying by the unit vector
//! e_j must give column j; a square and a non-square F32 matrix, through the kernels.

use crate::contract::Obligation;
use realizar::format::gguf::GgmlType;
use realizar::quant::{matvec, Kernel, QMatrix};

pub fn run(_o: &Obligation) -> super::Outcome {
    let mut wrong = 0usize;
    for (rows, cols) in [(64usize, 64usize), (7, 512)] {
        let w: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
        let m = QMatrix::new(GgmlType::F32, rows, cols, &bytes).map_err(super::engine)?;
        for j in [0, 1, cols / 2, cols - 1] {
            let mut x = vec![0.0f32; cols];
            x[j] = 1.0;
            let mut y = vec![0.0f32; rows];
            matvec(&m, &x, &mut y, Kernel::best()).map_err(super::engine)?;
            wrong += (0..rows).filter(|&i| y[i] != w[i * cols + j]).count();
        }
    }
    Ok((
        wrong as f64,
        format!("{wrong} outputs differ from W[i, j] at i * cols + j"),
    ))
}
