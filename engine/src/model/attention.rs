//! Causal attention over the KV cache for a call's query rows: scores, softmax and the weighted
//! sum of values, per (KV head, token), for every query head sharing that KV head.

use std::ops::Range;

use rayon::prelude::*;

use super::{Config, KvCache};
use crate::faults::{self, Fault};
use crate::ops;

/// Causal attention for the `n` query rows at positions `start..start + n`, whose keys and
/// values are already in the cache. Query head `h` reads KV head `h / (heads / kv_heads)`.
///
/// One task per (token, KV head): the `heads / kv_heads` query heads that share a KV head take
/// their scores against each key row as it is loaded, and their weighted sums of each value row
/// likewise, a small matrix product over the cache instead of one pass over it per query head.
/// Each (token, head) still sums its positions in one fixed order whatever else the call holds,
/// so a batch and one token at a time agree bit for bit.
pub(super) fn attention(
    cfg: &Config,
    cache: &KvCache,
    layer: usize,
    start: usize,
    window: Option<usize>,
    q: &[f32],
    out: &mut [f32],
) {
    let (hd, heads, kvd) = (cfg.head_dim, cfg.heads, cfg.kv_dim());
    let group = cfg.heads / cfg.kv_heads;
    let scale = match q.len() / cfg.q_dim() {
        _ if faults::is(Fault::HeadDimFromHidden) => 1.0 / ((cfg.hidden / heads) as f32).sqrt(),
        1 if faults::is(Fault::F16DecodeScale) => half::f16::from_f64(cfg.attn_scale).to_f32(),
        _ => cfg.attn_scale as f32,
    };
    let softcap = cfg
        .attn_softcap
        .filter(|_| !faults::is(Fault::ForgetSoftcap))
        .map(|c| c as f32);
    let (keys, values) = cache.layer(layer);
    // Position p sees positions p - window + 1 ..= p (HF's and llama.cpp's rule: masked when
    // p - t >= window).
    let window = window.map(|w| w + usize::from(faults::is(Fault::WindowOffByOne)));
    let span = AttentionSpan {
        keys,
        values,
        ctx: keys.len() / kvd,
        kvd,
        hd,
        scale,
        softcap,
    };
    // One task per (KV head, token), KV head first: consecutive tasks read the same KV head's
    // keys and values, which stay in L2, where token-first order cycles through every head's
    // and misses. Their outputs go to `by_head` ([kv_head][token][group * hd]) and then to
    // `out` ([token][head * hd]: a token's query heads are consecutive, so one KV head's group
    // is one run of its row).
    let n = q.len() / cfg.q_dim();
    let run = group * hd;
    let mut by_head = vec![0.0f32; out.len()];
    by_head
        .par_chunks_mut(run)
        .enumerate()
        .for_each(|(idx, o)| {
            let (kv_head, i) = (idx / n, idx % n);
            let qg = &q[i * cfg.q_dim() + kv_head * run..][..run];
            let len = start + i + 1;
            let first = window.map_or(0, |w| len.saturating_sub(w));
            span.attend(qg, kv_head * hd, first..len, o);
        });
    for (idx, o) in by_head.chunks_exact(run).enumerate() {
        let (kv_head, i) = (idx / n, idx % n);
        out[i * cfg.q_dim() + kv_head * run..][..run].copy_from_slice(o);
    }
}

/// Positions per block of scores: one AVX-512 register of f32.
const SCORE_BLOCK: usize = 16;

/// What every (token, KV head) of one layer's attention reads.
struct AttentionSpan<'a> {
    /// `[kv_dim][ctx]`: the cache's transposed keys.
    keys: &'a [f32],
    /// `[ctx][kv_dim]`.
    values: &'a [f32],
    ctx: usize,
    kvd: usize,
    hd: usize,
    scale: f32,
    softcap: Option<f32>,
}

impl AttentionSpan<'_> {
    /// The group's query heads `qg` against positions `seen` of the KV head at `kv_off`, into
    /// `o`. The body is compiled again for AVX-512 and AVX2, picked by what this CPU has: the
    /// same element-wise operations in the same order in wider registers (no fused
    /// multiply-adds), so every build gives the same bits.
    fn attend(&self, qg: &[f32], kv_off: usize, seen: Range<usize>, o: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512 F.
                return unsafe { self.attend_avx512(qg, kv_off, seen, o) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                return unsafe { self.attend_avx2(qg, kv_off, seen, o) };
            }
        }
        self.attend_body(qg, kv_off, seen, o)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn attend_avx512(&self, qg: &[f32], kv: usize, seen: Range<usize>, o: &mut [f32]) {
        self.attend_body(qg, kv, seen, o)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn attend_avx2(&self, qg: &[f32], kv: usize, seen: Range<usize>, o: &mut [f32]) {
        self.attend_body(qg, kv, seen, o)
    }

    #[inline(always)]
    fn attend_body(&self, qg: &[f32], kv_off: usize, seen: Range<usize>, o: &mut [f32]) {
        let hd = self.hd;
        let n = seen.len();
        // scores[g * n + s]: query head g of the group against position seen.start + s. Each is
        // its dot summed dimension by dimension from -0.0 (as `Iterator::sum`), then scaled;
        // the positions side by side are the vector lanes.
        // Blocks of 16 positions by 4 heads stay in registers over all dimensions, where a pass
        // per dimension loaded and stored every score again. A last block reaching past the
        // positions seen computes lanes it drops (the cache holds them, as zeros or stale
        // values). Heads left from fours, and positions at the very end of the cache, go one
        // by one.
        let heads = qg.len() / hd;
        // Rows padded to whole blocks, so that a block's scores are stored whole.
        let stride = n.div_ceil(SCORE_BLOCK) * SCORE_BLOCK;
        let mut scores = vec![-0.0f32; heads * stride];
        for p0 in (0..n).step_by(SCORE_BLOCK) {
            let (at, w) = (seen.start + p0, SCORE_BLOCK.min(n - p0));
            let mut g0 = 0;
            if at + SCORE_BLOCK <= self.ctx {
                while heads - g0 >= 4 {
                    let qs: [&[f32]; 4] = std::array::from_fn(|h| &qg[(g0 + h) * hd..][..hd]);
                    let mut acc = [[-0.0f32; SCORE_BLOCK]; 4];
                    for d in 0..hd {
                        let from = (kv_off + d) * self.ctx + at;
                        let keys: &[f32; SCORE_BLOCK] = self.keys[from..from + SCORE_BLOCK]
                            .try_into()
                            .expect("a block of keys");
                        let q = qs.map(|qh| qh[d]);
                        for (acc, q) in acc.iter_mut().zip(q) {
                            for (a, &k) in acc.iter_mut().zip(keys) {
                                *a += q * k;
                            }
                        }
                    }
                    for (h, acc) in acc.iter().enumerate() {
                        scores[(g0 + h) * stride + p0..][..SCORE_BLOCK].copy_from_slice(acc);
                    }
                    g0 += 4;
                }
            }
            for g in g0..heads {
                let qh = &qg[g * hd..][..hd];
                for s in p0..p0 + w {
                    let key = |d: usize| self.keys[(kv_off + d) * self.ctx + seen.start + s];
                    scores[g * stride + s] = (0..hd).fold(-0.0, |acc, d| acc + qh[d] * key(d));
                }
            }
        }
        for g in 1..heads {
            scores.copy_within(g * stride..g * stride + n, g * n);
        }
        scores.truncate(heads * n);
        for s in scores.iter_mut() {
            *s *= self.scale;
        }
        for row in scores.chunks_exact_mut(n) {
            if let Some(cap) = self.softcap {
                ops::softcap(row, cap);
            }
            ops::softmax(row);
        }
        // Each output element sums p * value over the positions in order, from zero. Runs of
        // 64, then 16, then single elements of up to four heads stay in registers for the
        // whole sum (independent chains of adds, each value loaded once for the four), where
        // a pass over the positions per head would load and store all of `o` at each one.
        let heads = qg.len() / hd;
        let (wide, narrow) = (hd / 64 * 64, hd / 16 * 16);
        let mut g = 0;
        while g < heads {
            let take = if heads - g >= 4 { 4 } else { 1 };
            let probs = &scores[g * n..(g + take) * n];
            let out = &mut o[g * hd..(g + take) * hd];
            for d in (0..wide).step_by(64) {
                self.weighted_sums::<64>(probs, seen.clone(), kv_off, d, out);
            }
            for d in (wide..narrow).step_by(16) {
                self.weighted_sums::<16>(probs, seen.clone(), kv_off, d, out);
            }
            for d in narrow..hd {
                self.weighted_sums::<1>(probs, seen.clone(), kv_off, d, out);
            }
            g += take;
        }
    }

    /// For each head h of `probs` (one row of `seen.len()` probabilities per head, four or one):
    /// `out[h * hd + d + l] = sum over positions t of p_h,t * value_t[d + l]` for `l < W`, in
    /// position order.
    #[inline(always)]
    fn weighted_sums<const W: usize>(
        &self,
        probs: &[f32],
        seen: Range<usize>,
        kv_off: usize,
        d: usize,
        out: &mut [f32],
    ) {
        if probs.len() == 4 * seen.len() {
            self.weighted_sums_of::<W, 4>(probs, seen, kv_off, d, out)
        } else {
            self.weighted_sums_of::<W, 1>(probs, seen, kv_off, d, out)
        }
    }

    #[inline(always)]
    fn weighted_sums_of<const W: usize, const H: usize>(
        &self,
        probs: &[f32],
        seen: Range<usize>,
        kv_off: usize,
        d: usize,
        out: &mut [f32],
    ) {
        let n = seen.len();
        let mut acc = [[0.0f32; W]; H];
        for (s, t) in seen.enumerate() {
            let vt: &[f32; W] = self.values[t * self.kvd + kv_off + d..][..W]
                .try_into()
                .expect("W values");
            for (h, acc) in acc.iter_mut().enumerate() {
                let p = probs[h * n + s];
                for l in 0..W {
                    acc[l] += p * vt[l];
                }
            }
        }
        for (h, acc) in acc.iter().enumerate() {
            out[h * self.hd + d..][..W].copy_from_slice(acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every build of the body (portable, AVX2, AVX-512) gives the same bits, on a head size of
    /// 72 (one run of 64, none of 16, 8 single dimensions), groups of 4 and of 3 query heads (the
    /// four-head and the one-head value sums) and position counts that fill no vector.
    #[test]
    fn every_build_of_attention_gives_the_same_bits() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let (hd, kv_heads, ctx) = (72, 2, 53);
        let kvd = hd * kv_heads;
        let keys: Vec<f32> = (0..kvd * ctx).map(|_| next()).collect();
        let values: Vec<f32> = (0..kvd * ctx).map(|_| next()).collect();
        for (group, softcap) in [(4, None), (3, Some(0.9f32)), (9, None)] {
            let span = AttentionSpan {
                keys: &keys,
                values: &values,
                ctx,
                kvd,
                hd,
                scale: 0.3,
                softcap,
            };
            let qg: Vec<f32> = (0..group * hd).map(|_| 4.0 * next()).collect();
            for seen in [0..1, 0..17, 5..53, 0..53] {
                let mut want = vec![0.0f32; group * hd];
                span.attend_body(&qg, hd, seen.clone(), &mut want);
                assert!(want.iter().all(|v| v.is_finite() && *v != 0.0));
                // The body's element-wise order, written out: each score summed dimension by
                // dimension from -0.0, each output over the positions in order from zero.
                let kv = hd;
                for (g, qh) in qg.chunks_exact(hd).enumerate() {
                    let mut p: Vec<f32> = seen
                        .clone()
                        .map(|t| {
                            let dot =
                                (0..hd).fold(-0.0f32, |a, d| a + qh[d] * keys[(kv + d) * ctx + t]);
                            dot * 0.3
                        })
                        .collect();
                    if let Some(cap) = softcap {
                        ops::softcap(&mut p, cap);
                    }
                    ops::softmax(&mut p);
                    for d in 0..hd {
                        let o = seen
                            .clone()
                            .zip(&p)
                            .fold(0.0f32, |a, (t, &pt)| a + pt * values[t * kvd + kv + d]);
                        assert_eq!(o.to_bits(), want[g * hd + d].to_bits(), "{g} {d} {seen:?}");
                    }
                }
                #[cfg(target_arch = "x86_64")]
                for (name, has) in [
                    ("avx2", is_x86_feature_detected!("avx2")),
                    ("avx512f", is_x86_feature_detected!("avx512f")),
                ] {
                    if !has {
                        continue;
                    }
                    let mut got = vec![0.0f32; group * hd];
                    // SAFETY: the CPU has the feature, checked just above.
                    unsafe {
                        match name {
                            "avx2" => span.attend_avx2(&qg, hd, seen.clone(), &mut got),
                            _ => span.attend_avx512(&qg, hd, seen.clone(), &mut got),
                        }
                    }
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{name}, group {group}, {seen:?}");
                }
            }
        }
    }
}
