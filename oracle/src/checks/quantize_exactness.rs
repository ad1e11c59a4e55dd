//! Quantization against ggml's reference quantizers (`quantize_row_*_ref`) on the seeded blocks
//! of golden/ggml/quantize, whose kinds (varied sub-block scales, constant and zero sub-blocks,
//! values below ggml's epsilon, rounding ties, spikes) reach what smooth test data does not:
//! the count of blocks whose bytes differ.

use super::{env, Ctx};
use crate::contract::TypeName;
use realizar::quant::quantize;

pub fn run(types: &[TypeName], ctx: &Ctx) -> super::Outcome {
    let (input, shape) = ctx.goldens.tensor(&ctx.goldens.quantize_input(), "input")?;
    let input: Vec<f32> = input.iter().map(|&v| v as f32).collect();
    let blocks = shape.first().copied().unwrap_or(0);
    let (mut total, mut parts) = (0usize, Vec::new());
    for &TypeName(ty) in types {
        let name = ty.name();
        let path = ctx.goldens.quantize(name);
        let bytes = std::fs::read(&path).map_err(|e| env(format!("{}: {e}", path.display())))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| env(format!("{}: {e}", path.display())))?;
        let gold = st
            .tensor("quantized")
            .map_err(|e| env(format!("{}: {e}", path.display())))?;
        let mut ours = vec![0u8; gold.data().len()];
        quantize(ty, &input, &mut ours).map_err(super::engine)?;
        let ts = ty.type_size() as usize;
        let differing = ours
            .chunks_exact(ts)
            .zip(gold.data().chunks_exact(ts))
            .filter(|(a, b)| a != b)
            .count();
        total += differing;
        parts.push(format!("{name} {differing}/{blocks}"));
    }
    Ok((
        total as f64,
        format!("blocks unlike ggml's reference bytes: {}", parts.join(", ")),
    ))
}
