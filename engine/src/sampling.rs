//! Choosing the next token from logits: greedy, or seeded sampling after llama.cpp's default
//! chain (repetition penalty, top-k, top-p, min-p, temperature). The same seed gives the same
//! tokens.

use std::collections::VecDeque;

#[derive(Clone, Debug, PartialEq)]
pub struct SamplerConfig {
    /// 0 (or less) is greedy: the highest logit after the repetition penalty.
    pub temperature: f32,
    /// Keep the k most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all.
    pub top_p: f32,
    /// Drop tokens less likely than min_p times the most likely one; 0 keeps all.
    pub min_p: f32,
    /// Divide positive logits (multiply negative ones) of recent tokens by this; 1 is off.
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks at.
    pub repeat_last_n: usize,
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

impl SamplerConfig {
    pub fn greedy() -> Self {
        SamplerConfig {
            temperature: 0.0,
            ..Self::default()
        }
    }
}

#[derive(Debug)]
pub struct Sampler {
    cfg: SamplerConfig,
    state: u64,
    recent: VecDeque<u32>,
}

impl Sampler {
    pub fn new(cfg: SamplerConfig) -> Self {
        Sampler {
            state: cfg.seed,
            cfg,
            recent: VecDeque::new(),
        }
    }

    /// Remembers tokens (the prompt, then each choice) for the repetition penalty.
    pub fn accept(&mut self, token: u32) {
        if self.cfg.repeat_last_n == 0 {
            return;
        }
        if self.recent.len() == self.cfg.repeat_last_n {
            self.recent.pop_front();
        }
        self.recent.push_back(token);
    }

    /// The next token for one position's logits.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let mut logits = logits.to_vec();
        if self.cfg.repeat_penalty != 1.0 {
            let mut seen = self.recent.iter().copied().collect::<Vec<_>>();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l > 0.0 {
                        *l / self.cfg.repeat_penalty
                    } else {
                        *l * self.cfg.repeat_penalty
                    };
                }
            }
        }
        if self.cfg.temperature <= 0.0 {
            return argmax(&logits);
        }
        // Candidates sorted by logit, highest first (ties by id, for determinism).
        let mut cand: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, l))
            .collect();
        cand.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if self.cfg.top_k > 0 {
            cand.truncate(self.cfg.top_k.max(1));
        }
        let probs = softmax(&cand, 1.0);
        if self.cfg.top_p < 1.0 {
            let mut sum = 0.0;
            let keep = probs
                .iter()
                .position(|&p| {
                    sum += p;
                    sum >= f64::from(self.cfg.top_p)
                })
                .map_or(cand.len(), |i| i + 1);
            cand.truncate(keep);
        }
        if self.cfg.min_p > 0.0 {
            let probs = softmax(&cand, 1.0);
            let floor = probs[0] * f64::from(self.cfg.min_p);
            let keep = probs.iter().take_while(|&&p| p >= floor).count().max(1);
            cand.truncate(keep);
        }
        let probs = softmax(&cand, self.cfg.temperature);
        let r = self.next_f64();
        let mut acc = 0.0;
        for (p, &(id, _)) in probs.iter().zip(&cand) {
            acc += p;
            if r < acc {
                return id;
            }
        }
        cand.last().map_or(0, |c| c.0)
    }

    /// SplitMix64, as a uniform draw in [0, 1).
    fn next_f64(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The first index of the largest value.
pub fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

fn softmax(cand: &[(u32, f32)], temperature: f32) -> Vec<f64> {
    let t = f64::from(temperature);
    let max = cand
        .iter()
        .map(|c| f64::from(c.1))
        .fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = cand
        .iter()
        .map(|c| ((f64::from(c.1) - max) / t).exp())
        .collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded random logits, never all equal.
    fn logits(n: usize, seed: u64) -> Vec<f32> {
        let mut s = Sampler::new(SamplerConfig {
            seed,
            ..SamplerConfig::default()
        });
        (0..n).map(|_| (s.next_f64() * 8.0 - 4.0) as f32).collect()
    }

    #[test]
    fn greedy_is_the_argmax() {
        let l = logits(500, 1);
        let mut s = Sampler::new(SamplerConfig::greedy());
        let best = l
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(s.sample(&l), best as u32);
        let mut top1 = Sampler::new(SamplerConfig {
            top_k: 1,
            ..SamplerConfig::default()
        });
        assert_eq!(top1.sample(&l), best as u32);
    }

    #[test]
    fn same_seed_same_tokens_other_seed_other_tokens() {
        let l = logits(300, 2);
        let draw = |seed| {
            let mut s = Sampler::new(SamplerConfig {
                seed,
                temperature: 1.5,
                top_k: 0,
                top_p: 1.0,
                min_p: 0.0,
                ..SamplerConfig::default()
            });
            (0..50).map(|_| s.sample(&l)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn unfiltered_sampling_follows_the_softmax() {
        let l: Vec<f32> = vec![2.0, 1.0, 0.0, -1.0];
        let cfg = SamplerConfig {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            seed: 3,
            ..SamplerConfig::default()
        };
        let mut s = Sampler::new(cfg);
        let n = 40_000;
        let mut counts = [0usize; 4];
        for _ in 0..n {
            counts[s.sample(&l) as usize] += 1;
        }
        let z: f64 = l.iter().map(|&v| f64::from(v).exp()).sum();
        for (i, &c) in counts.iter().enumerate() {
            let p = f64::from(l[i]).exp() / z;
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            assert!(
                (c as f64 / n as f64 - p).abs() < 5.0 * sd,
                "token {i}: {c} of {n}, p {p}"
            );
        }
    }

    #[test]
    fn top_k_top_p_and_min_p_only_ever_pick_the_survivors() {
        let l = logits(200, 4);
        let mut order: Vec<usize> = (0..l.len()).collect();
        order.sort_by(|&a, &b| l[b].total_cmp(&l[a]));
        for (cfg, allowed) in [
            (
                SamplerConfig {
                    top_k: 3,
                    top_p: 1.0,
                    min_p: 0.0,
                    ..SamplerConfig::default()
                },
                3,
            ),
            (
                SamplerConfig {
                    top_k: 0,
                    top_p: 1e-9,
                    min_p: 0.0,
                    ..SamplerConfig::default()
                },
                1,
            ),
            (
                SamplerConfig {
                    top_k: 0,
                    top_p: 1.0,
                    min_p: 1.0,
                    ..SamplerConfig::default()
                },
                1,
            ),
        ] {
            let mut s = Sampler::new(SamplerConfig {
                temperature: 5.0,
                ..cfg.clone()
            });
            for _ in 0..500 {
                let t = s.sample(&l) as usize;
                assert!(order[..allowed].contains(&t), "{cfg:?} picked {t}");
            }
        }
    }

    #[test]
    fn repetition_penalty_moves_greedy_off_a_repeated_token() {
        let l = vec![3.0f32, 2.9, -1.0];
        let mut s = Sampler::new(SamplerConfig {
            repeat_penalty: 1.1,
            ..SamplerConfig::greedy()
        });
        assert_eq!(s.sample(&l), 0);
        s.accept(0);
        assert_eq!(s.sample(&l), 1);
    }
}
