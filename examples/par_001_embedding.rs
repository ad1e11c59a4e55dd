//! Parity walk-through 1: the embedding lookup, the first op of a forward pass.
//!
//! The golden is HF transformers in float64 (golden/models/tiny-gqa/hf_f64.safetensors, made by
//! golden/scripts/models.py). We run the engine on the f32 GGUF with the same token ids, ask the
//! forward pass's observer for its `embedding` tensor, and compare. The embedding is a row
//! lookup, so it must match exactly: a mismatch here means the tensor was read with the wrong
//! layout (GGUF lists dims innermost first) or the wrong token ids.
//!
//! ```sh
//! cargo run --release --example par_001_embedding
//! ```

use std::path::Path;

use realizar::model::{Logits, Model, Trace};
use realizar::quant::Kernel;
use realizar_oracle::checks::Ctx;
use realizar_oracle::metrics::max_abs;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ctx = Ctx::new(root);
    // 1. The golden set's token ids, recorded in its manifest.
    let tokens = ctx.goldens.tokens("tiny-gqa")?;
    println!("tokens ({}): {:?}...", tokens.len(), &tokens[..8]);
    // 2. The engine on the f32 GGUF, traced.
    let model = Model::load(&ctx.goldens.model_file("tiny-gqa", "F32"), Kernel::best())?;
    let mut cache = model.new_cache(tokens.len());
    let mut trace = Trace::default();
    model.forward_traced(&mut cache, &tokens, Logits::All, Some(&mut trace))?;
    let (shape, ours) = &trace.tensors["embedding"];
    // 3. The golden, read with the safetensors crate (not the engine's reader).
    let (golden, golden_shape) = ctx
        .goldens
        .tensor(&ctx.goldens.hf_f64("tiny-gqa"), "embedding")?;
    println!("engine embedding {shape:?}, golden {golden_shape:?}");
    // 4. Compare. The HF checkpoint is bf16, so every value is exactly representable in f32.
    let ours: Vec<f64> = ours.iter().map(|&v| f64::from(v)).collect();
    let err = max_abs(&golden, &ours);
    println!("max abs difference: {err:e}");
    if err == 0.0 {
        println!("PASS: the embedding rows are the golden's, bit for bit");
        Ok(())
    } else {
        Err(format!("embedding differs from the golden by {err:e}").into())
    }
}
