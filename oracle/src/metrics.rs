//! The numbers verdicts rest on, in one place, computed in f64.
//!
//! Tensors are row-major `[rows, cols]` (for logits: one row per position, `cols` = vocab).
//! KL statistics follow llama-perplexity's `--kl-divergence` report: per-position KL(reference ||
//! test), its mean with standard error, max, percentiles and min; Δp is the change in the
//! probability of the reference's top token; "same top" is how often the argmax agrees.

/// Largest absolute difference.
pub fn max_abs(reference: &[f64], test: &[f64]) -> f64 {
    assert_eq!(reference.len(), test.len(), "max_abs: lengths differ");
    reference
        .iter()
        .zip(test)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, |m, d| nan_wins(m, d, f64::max))
}

/// `pick(a, b)`, except that a NaN on either side is the result: `f64::max` and `f64::min` drop
/// NaN, which would let an engine that produces NaN pass a max-abs or a minimum-cosine bound.
fn nan_wins(a: f64, b: f64, pick: fn(f64, f64) -> f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        pick(a, b)
    }
}

/// Normalised mean squared error: sum((a - b)^2) / sum(a^2). Zero reference gives infinity
/// unless the test is zero too.
pub fn nmse(reference: &[f64], test: &[f64]) -> f64 {
    assert_eq!(reference.len(), test.len(), "nmse: lengths differ");
    let err: f64 = reference
        .iter()
        .zip(test)
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    let norm: f64 = reference.iter().map(|a| a * a).sum();
    match (err == 0.0, norm == 0.0) {
        (true, _) => 0.0,
        (false, true) => f64::INFINITY,
        _ => err / norm,
    }
}

/// ||a - b|| / ||a||.
pub fn rel_l2(reference: &[f64], test: &[f64]) -> f64 {
    nmse(reference, test).sqrt()
}

pub fn l2(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// The smallest cosine similarity over rows. A zero row has cosine 1 with a zero row, 0 otherwise.
pub fn cosine_min(reference: &[f64], test: &[f64], cols: usize) -> f64 {
    assert_eq!(reference.len(), test.len(), "cosine_min: lengths differ");
    reference
        .chunks(cols)
        .zip(test.chunks(cols))
        .map(|(a, b)| {
            let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let (na, nb) = (l2(a), l2(b));
            if na == 0.0 || nb == 0.0 {
                f64::from(na == nb)
            } else {
                (dot / (na * nb)).clamp(-1.0, 1.0)
            }
        })
        .fold(1.0, |m, c| nan_wins(m, c, f64::min))
}

fn log_softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = max + x.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
    x.iter().map(|v| v - lse).collect()
}

fn argmax(x: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

/// The indices of the k largest values, largest first (ties by index).
pub fn top_k(x: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// A distribution of per-position values, summarised as llama-perplexity prints it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Stats {
    pub mean: f64,
    /// Standard error of the mean.
    pub stderr: f64,
    pub max: f64,
    pub p99_9: f64,
    pub p99: f64,
    pub p90: f64,
    pub median: f64,
    pub p10: f64,
    pub p1: f64,
    pub min: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Stats {
        assert!(!values.is_empty(), "Stats of nothing");
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        // Linear interpolation between closest ranks, as numpy's default percentile.
        let pct = |p: f64| {
            let rank = p / 100.0 * (sorted.len() - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
        };
        Stats {
            mean,
            stderr: (var / n).sqrt(),
            max: sorted[sorted.len() - 1],
            p99_9: pct(99.9),
            p99: pct(99.0),
            p90: pct(90.0),
            median: pct(50.0),
            p10: pct(10.0),
            p1: pct(1.0),
            min: sorted[0],
        }
    }
}

/// Everything the logits of two engines are compared by, position by position.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LogitsComparison {
    pub positions: usize,
    pub max_abs: f64,
    pub rel_l2: f64,
    pub cosine_min: f64,
    /// KL(reference || test) per position.
    pub kl: Stats,
    /// p_test - p_reference of the reference's top token.
    pub delta_p: Stats,
    pub rms_delta_p: f64,
    /// Fraction of positions whose top token agrees.
    pub same_top: f64,
    /// Mean fraction of the reference's top 10 found in the test's top 10.
    pub top10_overlap: f64,
}

impl LogitsComparison {
    /// One line for a verdict's detail.
    pub fn summary(&self) -> String {
        format!(
            "{} positions: max abs {:.2e}, KL mean {:.2e} max {:.2e}, same top {:.1}%",
            self.positions,
            self.max_abs,
            self.kl.mean,
            self.kl.max,
            self.same_top * 100.0
        )
    }
}

pub fn compare_logits(reference: &[f64], test: &[f64], vocab: usize) -> LogitsComparison {
    assert_eq!(
        reference.len(),
        test.len(),
        "compare_logits: lengths differ"
    );
    assert!(
        vocab > 0 && reference.len().is_multiple_of(vocab),
        "compare_logits: not [n, vocab]"
    );
    let (mut kl, mut dp, mut same, mut overlap) = (vec![], vec![], 0usize, 0.0);
    for (r, t) in reference.chunks(vocab).zip(test.chunks(vocab)) {
        let (lr, lt) = (log_softmax(r), log_softmax(t));
        let k: f64 = lr.iter().zip(&lt).map(|(a, b)| a.exp() * (a - b)).sum();
        // Rounding can make KL a hair negative; NaN (a non-finite output) must stay NaN, which
        // `f64::max` would turn into 0.
        kl.push(nan_wins(k, 0.0, f64::max));
        let top = argmax(&lr);
        dp.push(lt[top].exp() - lr[top].exp());
        let finite = t.iter().all(|v| v.is_finite());
        same += usize::from(finite && argmax(&lt) == top);
        let (kr, kt) = (top_k(r, 10), top_k(t, 10));
        overlap += kr.iter().filter(|i| kt.contains(i)).count() as f64 / kr.len() as f64;
    }
    let n = kl.len();
    LogitsComparison {
        positions: n,
        max_abs: max_abs(reference, test),
        rel_l2: rel_l2(reference, test),
        cosine_min: cosine_min(reference, test, vocab),
        rms_delta_p: (dp.iter().map(|d| d * d).sum::<f64>() / n as f64).sqrt(),
        kl: Stats::of(&kl),
        delta_p: Stats::of(&dp),
        same_top: same as f64 / n as f64,
        top10_overlap: overlap / n as f64,
    }
}

/// vLLM's rule for two greedy generations: equal, or at the first position where they differ
/// each engine's token is among the other's top `n` candidates there (later positions no longer
/// compare, since the contexts have diverged).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GreedyAgreement {
    pub agree: bool,
    /// Positions equal before the first difference (all of them if none).
    pub matched: usize,
}

pub fn greedy_agreement(
    a: &[u32],
    b: &[u32],
    a_top: &[Vec<u32>],
    b_top: &[Vec<u32>],
) -> GreedyAgreement {
    let n = a.len().min(b.len());
    match (0..n).find(|&i| a[i] != b[i]) {
        None => GreedyAgreement {
            agree: a.len() == b.len(),
            matched: n,
        },
        Some(i) => GreedyAgreement {
            agree: b_top.get(i).is_some_and(|t| t.contains(&a[i]))
                && a_top.get(i).is_some_and(|t| t.contains(&b[i])),
            matched: i,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_match_hand_computed_values() {
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((s.mean, s.median, s.min, s.max), (3.0, 3.0, 1.0, 5.0));
        assert!((s.stderr - (2.5f64 / 5.0).sqrt()).abs() < 1e-12);
        assert!((s.p90 - 4.6).abs() < 1e-12);
    }

    #[test]
    fn greedy_rule_accepts_a_near_tie_and_rejects_a_real_difference() {
        let top = |v: &[u32]| vec![v.to_vec(); 3];
        let same = greedy_agreement(&[1, 2, 3], &[1, 2, 3], &top(&[1]), &top(&[1]));
        assert_eq!(
            same,
            GreedyAgreement {
                agree: true,
                matched: 3
            }
        );
        let tie = greedy_agreement(&[1, 2, 3], &[1, 4, 9], &top(&[2, 4]), &top(&[4, 2]));
        assert_eq!(
            tie,
            GreedyAgreement {
                agree: true,
                matched: 1
            }
        );
        let far = greedy_agreement(&[1, 2, 3], &[1, 4, 9], &top(&[2, 5]), &top(&[4, 2]));
        assert!(!far.agree);
    }

    #[test]
    fn kl_sees_a_swap_that_max_abs_alone_would_rate_small() {
        let r = [2.0, 1.9, -3.0, -3.0];
        let t = [1.9, 2.0, -3.0, -3.0];
        let c = compare_logits(&r, &t, 4);
        assert!(c.max_abs <= 0.1 + 1e-12);
        assert_eq!(c.same_top, 0.0);
        assert!(c.kl.mean > 0.0 && c.delta_p.mean < 0.0);
    }
}
