//! Dequantization against gguf-py on the seeded golden blocks: the count of values that differ
//! in any bit (any NaN matches any NaN).

use super::{env, Ctx};
use crate::contract::TypeName;
use realizar::quant::dequantize_to_vec;

pub fn run(types: &[TypeName], ctx: &Ctx) -> super::Outcome {
    let mut total = 0usize;
    let mut parts = Vec::new();
    for &TypeName(t) in types {
        let ty = t.name();
        let path = ctx.goldens.dequant(ty);
        let golden_err = |e: &dyn std::fmt::Display| env(format!("{}: {e}", path.display()));
        let bytes = std::fs::read(&path).map_err(|e| golden_err(&e))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| golden_err(&e))?;
        let blocks = st.tensor("blocks").map_err(|e| golden_err(&e))?;
        let gold = st.tensor("dequant").map_err(|e| golden_err(&e))?;
        let ours = dequantize_to_vec(t, blocks.data()).map_err(super::engine)?;
        let mismatches = gold
            .data()
            .chunks_exact(4)
            .zip(&ours)
            .filter(|(g, &v)| {
                let g = f32::from_le_bytes([g[0], g[1], g[2], g[3]]);
                !(g.to_bits() == v.to_bits() || (g.is_nan() && v.is_nan()))
            })
            .count();
        total += mismatches;
        parts.push(format!("{ty} {mismatches}/{}", ours.len()));
    }
    Ok((
        total as f64,
        format!("mismatching values: {}", parts.join(", ")),
    ))
}
