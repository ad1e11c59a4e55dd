//! RoPE frequencies from a user's config.json equal HF transformers' `inv_freq` and attention
//! factor (golden/rope, written by golden/scripts/rope.py): the config read by the engine's
//! `Config::from_hf`, the frequencies computed by `ops::rope_freqs` as the forward pass calls
//! it. The cases reach what the tiny models' YaRN cannot: a blend range starting past pair 0,
//! one clamped at `dim - 1`, an untruncated one, and betas other than the defaults.

mod common;

use realizar::model::Config;
use realizar::ops::rope_freqs;

#[test]
fn rope_frequencies_and_attention_factor_equal_hf() {
    let path = common::goldens().rope_cases();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let cfg = Config::from_hf(&case["config"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(cfg.rope_longrope.is_none(), "{name}");
        let freqs = rope_freqs(
            cfg.rope_theta,
            cfg.rope_dim,
            cfg.rope_freq_scale,
            cfg.rope_factors.as_deref(),
            cfg.rope_yarn.as_ref(),
        );
        let want: Vec<f32> = case["inv_freq"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(freqs.len(), want.len(), "{name}: pairs");
        // HF takes the power and the blend in f32 (its blend as interpolated * (1 - (1 - ramp))
        // + extrapolated * (1 - ramp)), the engine the power and the ramp in f64: measured at
        // most 1.0e-6 relative (yarn-untruncated, where the ramp is fractional), 2.9e-7 in the
        // other cases. A clamp or offset wrong by one pair moves a blended pair by a percent or
        // more.
        let worst = freqs
            .iter()
            .zip(&want)
            .map(|(&got, &hf)| ((got - hf) / hf).abs())
            .fold(0.0f32, f32::max);
        eprintln!("{name}: worst relative difference {worst:.2e}");
        assert!(worst <= 4e-6, "{name}: {freqs:?} vs HF {want:?}");
        let factor = case["attention_factor"].as_f64().unwrap();
        assert!(
            (cfg.rope_mscale - factor).abs() <= 1e-12 * factor,
            "{name}: attention factor {} vs HF {factor}",
            cfg.rope_mscale
        );
    }
}
