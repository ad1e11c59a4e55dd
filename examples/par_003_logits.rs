//! Parity walk-through 3: logits, the number users see, against both references.
//!
//! For the f32 file the golden is HF float64 and the bound is max abs 1e-4 (llama.cpp itself
//! measures 1e-6). For a quantized file exact agreement is impossible, so the reference is
//! llama.cpp on the same file and the metric is KL(llama.cpp || realizar) per position, with
//! llama-perplexity's statistics.
//!
//! ```sh
//! cargo run --release --example par_003_logits
//! ```

use std::path::Path;

use realizar::model::{Logits, Model};
use realizar::quant::Kernel;
use realizar_oracle::checks::Ctx;
use realizar_oracle::metrics::compare_logits;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ctx = Ctx::new(root);
    let tokens = ctx.goldens.tokens("tiny-gqa")?;
    let run = |file: &str| -> Result<Vec<f64>, Box<dyn std::error::Error>> {
        let path = ctx.goldens.model_file("tiny-gqa", file);
        let model = Model::load(&path, Kernel::best())?;
        let mut cache = model.new_cache(tokens.len());
        let logits = model.forward(&mut cache, &tokens, Logits::All)?;
        Ok(logits.iter().map(|&v| f64::from(v)).collect())
    };
    let (hf, shape) = ctx
        .goldens
        .tensor(&ctx.goldens.hf_f64("tiny-gqa"), "logits")?;
    let vocab = shape[1];
    let f32 = compare_logits(&hf, &run("F32")?, vocab);
    println!(
        "F32 vs HF f64: max abs {:.2e} (bound 1e-4), KL mean {:.2e}",
        f32.max_abs, f32.kl.mean
    );
    for file in ["Q8_0", "Q4_K_M"] {
        let (llama, _) = ctx.goldens.tensor(
            &ctx.goldens.llamacpp_logits("tiny-gqa", file),
            "logits_batch",
        )?;
        let c = compare_logits(&llama, &run(file)?, vocab);
        println!(
            "{file} vs llama.cpp: KL mean {:.2e} ± {:.1e}, max {:.2e}, p99 {:.2e}; same top {:.1}%; RMS Δp {:.2e}",
            c.kl.mean, c.kl.stderr, c.kl.max, c.kl.p99, c.same_top * 100.0, c.rms_delta_p
        );
    }
    if f32.max_abs > 1e-4 {
        return Err("f32 parity violated".into());
    }
    println!("PASS");
    Ok(())
}
