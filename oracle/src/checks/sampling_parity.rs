//! The sampling chain `realizar run` draws from, against llama.cpp's own samplers on the same
//! logits (golden/sampling, from golden/scripts/sampling.py): after each stage (repetition
//! penalty, top-k, top-p, min-p, temperature) the same candidates in the same order with the same
//! f32 logits, and then the draw's probabilities within 1e-6. The draw itself is each engine's
//! own. Counts the (case, stage) pairs that differ, the probabilities counting as one more stage.

use serde_json::Value;

use super::{env, Ctx};
use realizar::sampling::{Sampler, SamplerConfig, STAGES};

/// Largest difference allowed between two probabilities of the draw (llama.cpp normalises in
/// f32, the engine in f64).
const PROB_TOLERANCE: f64 = 1e-6;

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect()
}

pub fn run(ctx: &Ctx) -> super::Outcome {
    let path = ctx.goldens.sampling_cases();
    let text =
        std::fs::read_to_string(&path).map_err(|e| env(format!("{}: {e}", path.display())))?;
    let golden: Value =
        serde_json::from_str(&text).map_err(|e| env(format!("{}: {e}", path.display())))?;
    let (logits, shape) = ctx
        .goldens
        .tensor(&ctx.goldens.sampling_logits(), "logits")?;
    let cases = golden["cases"].as_array().cloned().unwrap_or_default();
    if cases.is_empty() || shape.len() != 2 || shape[0] != cases.len() {
        return Err(env(format!(
            "{}: {} cases for logits of shape {shape:?}",
            path.display(),
            cases.len()
        )));
    }
    let vocab = shape[1];
    let (mut compared, mut differ) = (0usize, Vec::new());
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap_or("?");
        let s = &case["settings"];
        let num = |k: &str| {
            s[k].as_f64()
                .ok_or_else(|| env(format!("{}: case {name} has no {k}", path.display())))
        };
        let mut sampler = Sampler::new(SamplerConfig {
            temperature: num("temperature")? as f32,
            top_k: num("top_k")? as usize,
            top_p: num("top_p")? as f32,
            min_p: num("min_p")? as f32,
            repeat_penalty: num("repeat_penalty")? as f32,
            repeat_last_n: num("repeat_last_n")? as usize,
            seed: 0,
        });
        for t in numbers(&case["history"]) {
            sampler.accept(t as u32);
        }
        let row: Vec<f32> = logits[i * vocab..(i + 1) * vocab]
            .iter()
            .map(|&v| v as f32)
            .collect();
        let (stages, probs) = sampler.chain(&row);
        let theirs = case["stages"].as_array().cloned().unwrap_or_default();
        if theirs.len() != STAGES.len() {
            return Err(env(format!(
                "{}: case {name} has {} stages, not {}",
                path.display(),
                theirs.len(),
                STAGES.len()
            )));
        }
        for ((stage, ours), golden_stage) in stages.iter().zip(&theirs) {
            compared += 1;
            let ids: Vec<u32> = numbers(&golden_stage["ids"])
                .into_iter()
                .map(|v| v as u32)
                .collect();
            let their_logits: Vec<f32> = numbers(&golden_stage["logits"])
                .into_iter()
                .map(|v| v as f32)
                .collect();
            let our_ids: Vec<u32> = ours.tokens.iter().map(|t| t.0).collect();
            let our_logits: Vec<f32> = ours.tokens.iter().map(|t| t.1).collect();
            if our_ids != ids {
                differ.push(format!(
                    "{name} {stage}: {} candidates, llama.cpp {}",
                    our_ids.len(),
                    ids.len()
                ));
            } else if our_logits != their_logits {
                differ.push(format!("{name} {stage}: same candidates, other logits"));
            }
        }
        compared += 1;
        let their_probs = numbers(&case["probs"]);
        let worst = probs
            .iter()
            .zip(&their_probs)
            // A NaN probability is the worst difference there is, not one to skip.
            .map(|(a, b)| match (a - b).abs() {
                d if d.is_nan() => f64::INFINITY,
                d => d,
            })
            .fold(0.0f64, f64::max);
        if probs.len() != their_probs.len() || worst > PROB_TOLERANCE {
            differ.push(format!(
                "{name} probabilities: {} of them, llama.cpp {}, max abs difference {worst:.2e}",
                probs.len(),
                their_probs.len()
            ));
        }
    }
    Ok((
        differ.len() as f64,
        format!(
            "{} cases x {} stages and the probabilities: {compared} compared, {} differ from \
             llama.cpp's samplers{}",
            cases.len(),
            STAGES.len(),
            differ.len(),
            differ
                .first()
                .map_or(String::new(), |d| format!("; first: {d}"))
        ),
    ))
}
