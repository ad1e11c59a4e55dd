//! Choosing the next token from logits: greedy, or seeded sampling after llama.cpp's default
//! chain (repetition penalty, top-k, top-p, min-p, temperature), computed stage by stage as
//! llama.cpp's samplers compute them. The draw is ours (SplitMix64): the same seed gives the same
//! tokens.

use std::collections::VecDeque;

use crate::faults::{self, Fault};

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
        if self.cfg.temperature <= 0.0 {
            let penalized: Vec<f32> = self.penalties(logits).tokens.iter().map(|t| t.1).collect();
            return argmax(&penalized);
        }
        let (cand, probs) = self.run_chain(logits, |_, _| {});
        let r = self.next_f64();
        let mut acc = 0.0;
        for (p, &(id, _)) in probs.iter().zip(&cand.tokens) {
            acc += p;
            if r < acc {
                return id;
            }
        }
        cand.tokens.last().map_or(0, |c| c.0)
    }

    /// What each stage of the chain leaves of the candidates (named as in [`STAGES`]), and the
    /// probabilities the draw then uses: the contract SAMPLING-PARITY holds these to llama.cpp's
    /// samplers on the same logits. Needs a positive temperature (zero is greedy).
    pub fn chain(&self, logits: &[f32]) -> (Vec<(&'static str, Candidates)>, Vec<f64>) {
        let mut stages = Vec::new();
        let (_, probs) = self.run_chain(logits, |name, c| stages.push((name, c.clone())));
        (stages, probs)
    }

    /// llama.cpp's default chain, stage by stage, in its arithmetic (f32 logits and
    /// probabilities, its sort points and comparisons), so that the candidates equal its own;
    /// `record` sees each stage's result.
    fn run_chain(
        &self,
        logits: &[f32],
        mut record: impl FnMut(&'static str, &Candidates),
    ) -> (Candidates, Vec<f64>) {
        let mut c = self.penalties(logits);
        record(STAGES[0], &c);
        c.top_k(self.cfg.top_k);
        record(STAGES[1], &c);
        c.top_p(self.cfg.top_p);
        record(STAGES[2], &c);
        c.min_p(self.cfg.min_p);
        record(STAGES[3], &c);
        for t in &mut c.tokens {
            t.1 /= self.cfg.temperature;
        }
        record(STAGES[4], &c);
        let probs = c.probabilities();
        (c, probs)
    }

    /// Every token with its logit, the recent ones penalized: a positive logit divided by the
    /// penalty, a negative one multiplied (llama.cpp's fix of the rule as published, which
    /// divides both and so favours repeated tokens with negative logits).
    fn penalties(&self, logits: &[f32]) -> Candidates {
        let mut c = Candidates {
            tokens: logits
                .iter()
                .enumerate()
                .map(|(i, &l)| (i as u32, l))
                .collect(),
            sorted: false,
        };
        let rp = self.cfg.repeat_penalty;
        if rp == 1.0 || self.cfg.repeat_last_n == 0 {
            return c;
        }
        let divide_all = faults::is(Fault::PenaltyDividesNegative);
        let mut seen: Vec<u32> = self.recent.iter().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            if let Some(l) = c.tokens.get_mut(t as usize).map(|t| &mut t.1) {
                if *l <= 0.0 && !divide_all {
                    *l *= rp;
                } else {
                    *l /= rp;
                }
            }
        }
        c
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

/// The stages of the chain before the draw, in order: llama.cpp's sampler names.
pub const STAGES: [&str; 5] = ["penalties", "top_k", "top_p", "min_p", "temperature"];

/// The candidates a stage leaves: (token, logit) in the order llama.cpp's array holds them, and
/// whether that order is by logit, highest first (llama.cpp's `sorted` flag, which decides how
/// the next stage computes).
#[derive(Clone, Debug, PartialEq)]
pub struct Candidates {
    pub tokens: Vec<(u32, f32)>,
    pub sorted: bool,
}

impl Candidates {
    /// Highest logit first; ties by token id, where llama.cpp's sort leaves them in no set order.
    fn sort(&mut self) {
        if !self.sorted {
            self.tokens
                .sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            self.sorted = true;
        }
    }

    fn max_logit(&self) -> f32 {
        if self.sorted {
            self.tokens.first().map_or(f32::NEG_INFINITY, |t| t.1)
        } else {
            self.tokens
                .iter()
                .map(|t| t.1)
                .fold(f32::NEG_INFINITY, f32::max)
        }
    }

    /// The k highest; 0 keeps all (unsorted).
    fn top_k(&mut self, k: usize) {
        if k == 0 {
            return;
        }
        self.sort();
        self.tokens.truncate(k);
    }

    /// The fewest highest whose probabilities (a softmax in f32, summed in the array's order
    /// before sorting, as llama.cpp does) reach p; 1 keeps all.
    fn top_p(&mut self, p: f32) {
        if p >= 1.0 || self.tokens.is_empty() {
            return;
        }
        let max = self.max_logit();
        let mut probs: Vec<f32> = self.tokens.iter().map(|t| (t.1 - max).exp()).collect();
        let sum: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|q| *q /= sum);
        let mut order: Vec<usize> = (0..self.tokens.len()).collect();
        if !self.sorted {
            order.sort_by(|&a, &b| {
                let (x, y) = (self.tokens[a], self.tokens[b]);
                y.1.total_cmp(&x.1).then(x.0.cmp(&y.0))
            });
        }
        let mut cum = 0.0f32;
        let mut keep = order.len();
        for (i, &j) in order.iter().enumerate() {
            cum += probs[j];
            if cum >= p {
                // The fault stops before the token that reaches p.
                keep = faults::top_p_keep(i + 1);
                break;
            }
        }
        self.tokens = order[..keep].iter().map(|&j| self.tokens[j]).collect();
        self.sorted = true;
    }

    /// Those whose logit is at least the highest plus ln(p) (probability at least p times the
    /// highest's), in f32 as llama.cpp compares; 0 keeps all. Unsorted candidates stay in their
    /// order.
    fn min_p(&mut self, p: f32) {
        if p <= 0.0 || self.tokens.is_empty() {
            return;
        }
        let floor = self.max_logit() + p.ln();
        if self.sorted {
            // The first always stays.
            let keep = 1 + self.tokens[1..].iter().take_while(|t| t.1 >= floor).count();
            self.tokens.truncate(keep);
        } else {
            self.tokens.retain(|t| t.1 >= floor);
        }
    }

    /// The draw's probabilities: exp in f32, summed in f64, as llama.cpp's dist sampler.
    fn probabilities(&self) -> Vec<f64> {
        if self.tokens.len() == 1 {
            return vec![1.0];
        }
        let max = self.max_logit();
        let e: Vec<f64> = self
            .tokens
            .iter()
            .map(|t| f64::from((t.1 - max).exp()))
            .collect();
        let sum: f64 = e.iter().sum();
        e.into_iter().map(|v| v / sum).collect()
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
    fn the_chain_records_every_stage_and_penalizes_negative_logits_by_multiplying() {
        let l = vec![2.0f32, -1.0, 0.5, 1.5, -3.0];
        let mut s = Sampler::new(SamplerConfig {
            repeat_penalty: 2.0,
            top_k: 4,
            top_p: 0.9,
            min_p: 0.0,
            temperature: 0.5,
            ..SamplerConfig::default()
        });
        s.accept(0);
        s.accept(1);
        let (stages, probs) = s.chain(&l);
        let names: Vec<&str> = stages.iter().map(|s| s.0).collect();
        assert_eq!(names, STAGES);
        // 2.0 / 2 and -1.0 * 2: both repeated tokens lose ground, in id order (unsorted).
        assert_eq!(stages[0].1.tokens[..2], [(0, 1.0), (1, -2.0)]);
        assert!(!stages[0].1.sorted);
        // Top-k sorts: 1.5, 1.0, 0.5, -2.0.
        let ids = |i: usize| stages[i].1.tokens.iter().map(|t| t.0).collect::<Vec<_>>();
        assert_eq!(ids(1), [3, 0, 2, 1]);
        assert!(stages[1].1.sorted);
        // Temperature 0.5 doubles the survivors' logits; the probabilities sum to 1.
        assert_eq!(stages[4].1.tokens[0], (3, 3.0));
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(probs.len(), stages[4].1.tokens.len());
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
