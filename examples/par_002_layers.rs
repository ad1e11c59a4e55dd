//! Parity walk-through 2: layer by layer, op by op, to the first divergence.
//!
//! Each traced op (attn_norm, q, k, v after RoPE, attn_out, ffn_norm, ffn_gate, ffn_up,
//! ffn_out, the layer's output) is compared with the reference that recorded it: HF float64 for
//! most, llama.cpp's eval-callback trace for q and k (HF never materialises them after RoPE in
//! GGUF row order). Errors grow slowly through the layers; a bug shows as a jump at one op.
//! `oracle diff` prints the same table.
//!
//! ```sh
//! cargo run --release --example par_002_layers                 # the f32 GGUF: no divergence
//! cargo run --release --example par_002_layers -- Q4_K_M       # a quantized file: where it drifts
//! cargo run --release --example par_002_layers -- F32 gpu      # the same pass on the GPU backend
//! ```

use std::path::Path;

use realizar::backend::BackendKind;
use realizar_oracle::diff::{diff, table, Source};
use realizar_oracle::goldens::Goldens;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = std::env::args().nth(1).unwrap_or_else(|| "F32".into());
    let backend = match std::env::args().nth(2).as_deref() {
        Some("gpu") => BackendKind::Gpu,
        _ => BackendKind::Cpu,
    };
    let model = Goldens::of_repo(root).model_file("tiny-gqa", &file);
    let d = diff(
        root,
        &model,
        Source::Realizar(backend),
        None,
        "tiny-gqa",
        1e-4,
    )?;
    print!("{}", table(&d));
    match d.first_divergence {
        None => println!("PASS: every op within 1e-4 relative L2"),
        Some(i) => println!(
            "the first op above 1e-4 is {}: start reading there (expected for quantized weights)",
            d.rows[i].op
        ),
    }
    Ok(())
}
