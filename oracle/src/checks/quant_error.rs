//! Quantization error on ggml's own test data (0.1 + 2 cos(i), 4096 values) against the error
//! ggml measured for the same type (golden/ggml/quantize_fns.json, from its
//! test-quantize-fns): the largest excess of ours over ggml's, over the listed types.

use super::{engine, env, Ctx};
use crate::contract::TypeName;
use realizar::quant::{dequantize_to_vec, quantize};

/// ggml's array_rmse: sqrt(sum of squared differences) / n.
fn array_rmse(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x - y).powi(2))
        .sum();
    sum.sqrt() / a.len() as f64
}

pub fn run(types: &[TypeName], ctx: &Ctx) -> super::Outcome {
    let path = ctx.goldens.quantize_fns();
    let ggml: serde_json::Value = std::fs::read(&path)
        .map_err(|e| env(format!("{}: {e}", path.display())))
        .and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| env(format!("{}: {e}", path.display())))
        })?;
    let data: Vec<f32> = (0..32 * 128)
        .map(|i| 0.1 + 2.0 * (i as f32).cos())
        .collect();
    let (mut worst, mut parts) = (f64::NEG_INFINITY, Vec::new());
    for &TypeName(ty) in types {
        let name = ty.name();
        let theirs = ggml["errors"][name.to_lowercase().replace("_k", "_K")]["quantization_error"]
            .as_f64()
            .ok_or_else(|| {
                env(format!(
                    "{}: no quantization_error for {name}",
                    path.display()
                ))
            })?;
        let bytes = ty
            .bytes_for(data.len() as u64)
            .ok_or_else(|| env(format!("{name}: 4096 values do not fill whole blocks")))?;
        let mut q = vec![0u8; bytes as usize];
        quantize(ty, &data, &mut q).map_err(engine)?;
        let ours = array_rmse(&data, &dequantize_to_vec(ty, &q).map_err(engine)?);
        worst = worst.max(ours - theirs);
        parts.push(format!("{name} {ours:.6} (ggml {theirs})"));
    }
    Ok((worst, format!("quantization error: {}", parts.join(", "))))
}
