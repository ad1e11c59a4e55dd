//! The element-wise and row-wise operations of the forward pass, on row-major f32 rows.

mod expf;
pub use expf::{expf, silu};

/// How RoPE pairs the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Pairs (2i, 2i+1): llama.cpp's LLAMA_ROPE_TYPE_NORM.
    Adjacent,
    /// Pairs (i, i + d/2): GPT-NeoX, HF's rotate_half.
    NeoX,
}

/// `out = x / rms(x) * weight`, row by row (each row `weight.len()` long). The mean square is
/// accumulated in f64: rows of thousands of values lose digits in f32.
///
/// Each row's squares are summed one after another, in element order (a different order would
/// round differently and move the parity figures). A batch runs `NORM_ROWS` rows' sums side by
/// side, element by element: independent adds keep the core busy where one row's chain would
/// wait on each add, and every row's sum is still its own sequential one.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f64, out: &mut [f32]) {
    let n = weight.len();
    let group = NORM_ROWS * n;
    let mut x_groups = x.chunks_exact(group);
    let mut out_groups = out.chunks_exact_mut(group);
    for (xs, outs) in (&mut x_groups).zip(&mut out_groups) {
        let rows: [&[f32]; NORM_ROWS] = std::array::from_fn(|r| &xs[r * n..(r + 1) * n]);
        let mut sums = [0.0f64; NORM_ROWS];
        for i in 0..n {
            for (sum, row) in sums.iter_mut().zip(rows) {
                *sum += f64::from(row[i]) * f64::from(row[i]);
            }
        }
        for ((row, dst), sum) in rows.iter().zip(outs.chunks_exact_mut(n)).zip(sums) {
            rms_scale(row, sum, weight, eps, dst);
        }
    }
    let tail = x_groups.remainder().chunks_exact(n);
    for (row, dst) in tail.zip(out_groups.into_remainder().chunks_exact_mut(n)) {
        let sum = row
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>();
        rms_scale(row, sum, weight, eps, dst);
    }
}

/// Rows whose RMSNorm sums run side by side: enough independent f64 adds to cover an add's
/// latency.
const NORM_ROWS: usize = 8;

/// One row's `x / rms(x) * weight` from its sum of squares.
fn rms_scale(row: &[f32], sum_sq: f64, weight: &[f32], eps: f64, dst: &mut [f32]) {
    let mean_sq = sum_sq / weight.len() as f64;
    let scale = (1.0 / (mean_sq + eps).sqrt()) as f32;
    for ((d, &v), &w) in dst.iter_mut().zip(row).zip(weight) {
        *d = v * scale * w;
    }
}

/// In-place softmax, max-subtracted, summed in f64.
pub fn softmax(x: &mut [f32]) {
    let max = if crate::faults::is(crate::faults::Fault::SoftmaxWithoutMax) {
        0.0
    } else {
        x.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    };
    expf::exp_shifted(x, max);
    // Four running sums, then pairwise: one f64 sum would wait on each add.
    let mut lanes = [0.0f64; 4];
    let chunks = x.chunks_exact(4);
    let tail: f64 = chunks.remainder().iter().map(|&v| f64::from(v)).sum();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += f64::from(v);
        }
    }
    let sum = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) + tail;
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// The activation of a gated FFN's gate rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `x * sigmoid(x)`: SwiGLU (Llama, Qwen, Mistral, Phi-3).
    Silu,
    /// GELU by its tanh approximation (HF's gelu_pytorch_tanh): GeGLU (Gemma).
    GeluTanh,
    /// The same GELU as llama.cpp's CPU backend computes it, through a table indexed by the
    /// input rounded to f16 and holding f16 results (0 below -10, the identity above 10). It
    /// differs from `GeluTanh` by up to about 1e-3 relative; Q8 activation quantization
    /// downstream turns that into KL ~1e-4 against llama.cpp on a quantized Gemma file.
    GeluTanhF16,
}

impl Activation {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Silu => silu(x),
            Activation::GeluTanh => {
                0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + GELU_A * x * x * x)).tanh())
            }
            Activation::GeluTanhF16 => {
                if x <= -10.0 {
                    0.0
                } else if x >= 10.0 {
                    x
                } else {
                    // ggml_gelu_f32 on the f16 input, stored as f16: ggml_table_gelu_f16.
                    let x = half::f16::from_f32(x).to_f32();
                    let y = 0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (1.0 + GELU_A * x * x)).tanh());
                    half::f16::from_f32(y).to_f32()
                }
            }
        }
    }
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_A: f32 = 0.044_715;

/// `gate = act(gate) * up`: the gated FFN's combination (SwiGLU, GeGLU). `simd`: SiLU eight
/// values at a time where the CPU has AVX2 and FMA (the same bits; off for the scalar kernel).
pub fn glu(act: Activation, gate: &mut [f32], up: &[f32], simd: bool) {
    use rayon::prelude::*;
    // In runs across the pool's threads: an exp or tanh per element, a serial pass otherwise.
    const RUN: usize = 4096;
    gate.par_chunks_mut(RUN)
        .zip(up.par_chunks(RUN))
        .for_each(|(gs, us)| match act {
            Activation::Silu => expf::silu_glu(gs, us, simd),
            _ => {
                for (g, &u) in gs.iter_mut().zip(us) {
                    *g = act.apply(*g) * u;
                }
            }
        });
}

/// `x = cap * tanh(x / cap)`: Gemma's soft-capping of attention scores and logits.
pub fn softcap(x: &mut [f32], cap: f32) {
    for v in x.iter_mut() {
        *v = cap * (*v / cap).tanh();
    }
}

pub fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// cos and sin of every rotation angle for a run of positions: `[positions][rope_dim / 2]`.
pub struct RopeTable {
    pub half: usize,
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
}

/// YaRN RoPE scaling (llama.cpp's `rope_yarn`, HF's `_compute_yarn_parameters`): pairs that
/// turn fewer than `beta_slow` times over the original context are interpolated (frequency /
/// factor), pairs that turn more than `beta_fast` times keep their frequency, and the pairs
/// between blend linearly; cos and sin are then scaled by the attention factor.
#[derive(Clone, Debug, PartialEq)]
pub struct Yarn {
    pub factor: f64,
    pub original_context: f64,
    pub beta_fast: f64,
    pub beta_slow: f64,
    /// Round the blend's pair range outwards to whole pairs (both references do by default).
    pub truncate: bool,
}

impl Yarn {
    /// The pair range over which frequencies blend: the pair index at which a pair turns
    /// `rotations` times over the original context, for beta_fast and beta_slow.
    fn blend_range(&self, theta: f64, rope_dim: usize) -> (f64, f64) {
        let dim = rope_dim as f64;
        let pair = |rotations: f64| {
            dim * (self.original_context / (rotations * 2.0 * std::f64::consts::PI)).ln()
                / (2.0 * theta.ln())
        };
        let (low, high) = (pair(self.beta_fast), pair(self.beta_slow));
        let (low, high) = if self.truncate {
            (low.floor(), high.ceil())
        } else {
            (low, high)
        };
        (low.max(0.0), high.min(dim - 1.0))
    }
}

/// The rotation frequency of each of the `rope_dim / 2` pairs, as HF transformers computes them
/// (rounded to f32): `theta^(-2i/d)`, divided by Llama 3's per-pair factors if there are any,
/// times the linear position scale, or blended by YaRN.
pub fn rope_freqs(
    theta: f64,
    rope_dim: usize,
    freq_scale: f64,
    factors: Option<&[f32]>,
    yarn: Option<&Yarn>,
) -> Vec<f32> {
    let blend = yarn.map(|y| (y, y.blend_range(theta, rope_dim)));
    (0..rope_dim / 2)
        .map(|i| {
            let f = (1.0 / theta.powf((2 * i) as f64 / rope_dim as f64)) as f32;
            let f = factors.map_or(f, |ff| f / ff[i]);
            let f = match blend {
                None => f,
                Some((y, (low, high))) => {
                    // 0 keeps the frequency, 1 interpolates it.
                    let ramp = ((i as f64 - low) / (high - low).max(0.001)).clamp(0.0, 1.0) as f32;
                    let interpolated = f / y.factor as f32;
                    interpolated * ramp + f * (1.0 - ramp)
                }
            };
            if freq_scale == 1.0 {
                f
            } else {
                (f64::from(f) * freq_scale) as f32
            }
        })
        .collect()
}

impl RopeTable {
    /// Angles for `positions` from the pairs' frequencies (`rope_freqs`): position x frequency
    /// rounded to f32 as HF does, with cos and sin taken in f64; the references agree to about
    /// 1e-6 this way.
    /// `mscale` multiplies cos and sin (YaRN's attention factor; 1 otherwise).
    pub fn new(freqs: &[f32], positions: std::ops::Range<usize>, mscale: f64) -> Self {
        let half = freqs.len();
        let mut cos = Vec::with_capacity(positions.len() * half);
        let mut sin = Vec::with_capacity(positions.len() * half);
        for pos in positions {
            for &f in freqs {
                let angle = f64::from(pos as f32 * f);
                cos.push((angle.cos() * mscale) as f32);
                sin.push((angle.sin() * mscale) as f32);
            }
        }
        RopeTable { half, cos, sin }
    }

    /// Rotates every head of one token's `x` (`heads * head_dim` values) by the angles of the
    /// `index`-th position of the table.
    pub fn apply(&self, x: &mut [f32], head_dim: usize, index: usize, style: RopeStyle) {
        let cos = &self.cos[index * self.half..(index + 1) * self.half];
        let sin = &self.sin[index * self.half..(index + 1) * self.half];
        // The style chosen once, outside the loops, and each pair's two values as slices the
        // loop walks in step: the compiler vectorizes both loops. Each value is the same
        // products and sum as one pair at a time (no fused multiply-adds), so the same bits.
        for head in x.chunks_exact_mut(head_dim) {
            let rotated = &mut head[..2 * self.half];
            match style {
                RopeStyle::Adjacent => {
                    for ((pair, &c), &s) in rotated.chunks_exact_mut(2).zip(cos).zip(sin) {
                        let (x0, x1) = (pair[0], pair[1]);
                        pair[0] = x0 * c - x1 * s;
                        pair[1] = x0 * s + x1 * c;
                    }
                }
                RopeStyle::NeoX => {
                    let (first, second) = rotated.split_at_mut(self.half);
                    for (((a, b), &c), &s) in first.iter_mut().zip(second).zip(cos).zip(sin) {
                        let (x0, x1) = (*a, *b);
                        *a = x0 * c - x1 * s;
                        *b = x0 * s + x1 * c;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_is_the_tanh_approximation_and_its_f16_table_rounds_both_ends() {
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) in f64.
        for (x, want) in [
            (1.0f32, 0.841_191_990_608_276_8f64),
            (-0.5, -0.154_285_990_174_856_06),
            (3.0, 2.996_362_607_918_227),
            (-3.0, -0.003_637_392_081_772_994_3),
        ] {
            // f32 loses digits to cancellation in 1 + tanh(..) for negative x.
            let exact = Activation::GeluTanh.apply(x);
            assert!((f64::from(exact) - want).abs() <= 1e-6, "{x}: {exact}");
            // An f16 result: within one f16 step (2^-10 relative) of the true value.
            let table = Activation::GeluTanhF16.apply(x);
            assert_eq!(table, half::f16::from_f32(table).to_f32(), "{x}");
            assert!(
                (f64::from(table) - want).abs() <= want.abs() / 1024.0,
                "{x}: {table}"
            );
        }
        // Off the table: zero below -10, the identity above 10.
        assert_eq!(Activation::GeluTanhF16.apply(-10.5), 0.0);
        assert_eq!(Activation::GeluTanhF16.apply(12.25), 12.25);
        // The f16 input rounding is visible: 1 + 2^-12 rounds to 1.
        assert_eq!(
            Activation::GeluTanhF16.apply(1.0 + 1.0 / 4096.0),
            Activation::GeluTanhF16.apply(1.0)
        );
        assert!(Activation::GeluTanh.apply(1.0 + 1.0 / 4096.0) > Activation::GeluTanh.apply(1.0));
    }

    #[test]
    fn softcap_bounds_values_and_keeps_small_ones() {
        let mut x = [0.01f32, -100.0, 100.0, 2.0];
        softcap(&mut x, 5.0);
        assert!((x[0] - 0.01).abs() < 1e-6);
        // tanh saturates to exactly 1 in f32 for large arguments.
        assert!(x[1] >= -5.0 && x[1] < -4.99, "{}", x[1]);
        assert!(x[2] <= 5.0 && x[2] > 4.99, "{}", x[2]);
        assert!((x[3] - 5.0 * 0.4f32.tanh()).abs() < 1e-6);
    }

    #[test]
    fn rms_norm_gives_unit_rms_before_the_weight() {
        let x = [3.0f32, -4.0, 12.0, 0.5, 1.0, -2.0, 7.0, 0.25];
        let w = [1.0f32, 2.0, 0.5, 1.5];
        let mut out = [0.0f32; 8];
        rms_norm(&x, &w, 0.0, &mut out);
        for (row, out_row) in x.chunks(4).zip(out.chunks(4)) {
            let rms = (row.iter().map(|v| v * v).sum::<f32>() / 4.0).sqrt();
            for i in 0..4 {
                assert!((out_row[i] - row[i] / rms * w[i]).abs() < 1e-6);
            }
        }
    }

    /// A batch of rows (more than one group of side-by-side sums, and a remainder) gives each row
    /// exactly what normalizing it alone gives: the same sequential sum of squares.
    #[test]
    fn rms_norm_of_a_batch_equals_each_row_alone() {
        let n = 37;
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 8.0
        };
        let rows = 2 * NORM_ROWS + 3;
        let x: Vec<f32> = (0..rows * n).map(|_| next()).collect();
        let w: Vec<f32> = (0..n).map(|_| next()).collect();
        let mut batch = vec![0.0f32; rows * n];
        rms_norm(&x, &w, 1e-6, &mut batch);
        for r in 0..rows {
            let mut alone = vec![0.0f32; n];
            rms_norm(&x[r * n..(r + 1) * n], &w, 1e-6, &mut alone);
            let mut serial = vec![0.0f32; n];
            let row = &x[r * n..(r + 1) * n];
            let sum = row
                .iter()
                .fold(0.0f64, |s, &v| s + f64::from(v) * f64::from(v));
            rms_scale(row, sum, &w, 1e-6, &mut serial);
            for i in 0..n {
                assert_eq!(
                    batch[r * n + i].to_bits(),
                    alone[i].to_bits(),
                    "row {r} [{i}]"
                );
                assert_eq!(alone[i].to_bits(), serial[i].to_bits(), "row {r} [{i}]");
            }
        }
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut x = [1.0f32, 3.0, -2.0, 3.5, 10.0, 9.0];
        softmax(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(x[4] > x[5] && x[5] > x[3] && x[3] > x[1] && x[1] > x[0] && x[0] > x[2]);
    }

    #[test]
    fn softmax_of_huge_logits_does_not_overflow() {
        let mut x = [1000.0f32, 999.0, -1000.0];
        softmax(&mut x);
        assert!(x.iter().all(|v| v.is_finite()));
        assert!((x[0] / x[1] - std::f32::consts::E).abs() < 1e-4);
    }

    #[test]
    fn rope_rotates_the_pairs_its_style_names() {
        let table = RopeTable::new(&rope_freqs(10_000.0, 4, 1.0, None, None), 3..4, 1.0);
        let x: Vec<f32> = vec![1.0, 2.0, 3.0, 4.0];
        for (style, pair0) in [(RopeStyle::Adjacent, (0, 1)), (RopeStyle::NeoX, (0, 2))] {
            let mut y = x.clone();
            table.apply(&mut y, 4, 0, style);
            // Frequency 0 is 1.0: the first pair turns by the position itself, 3 radians.
            let (c, s) = (3.0f64.cos() as f32, 3.0f64.sin() as f32);
            let (a, b) = (x[pair0.0], x[pair0.1]);
            assert!((y[pair0.0] - (a * c - b * s)).abs() < 1e-6, "{style:?}");
            assert!((y[pair0.1] - (a * s + b * c)).abs() < 1e-6, "{style:?}");
            // Rotation keeps each pair's length.
            let len = |v: &[f32]| v.iter().map(|t| t * t).sum::<f32>();
            assert!((len(&y) - len(&x)).abs() < 1e-4);
        }
    }

    /// Every head rotated as one pair at a time would, bit for bit, with a partial rotary
    /// dimension (6 of a head's 10; the last 4 untouched) and three heads.
    #[test]
    fn rope_equals_one_pair_at_a_time_and_leaves_unrotated_dims() {
        let (head_dim, rope_dim, heads) = (10, 6, 3);
        let table = RopeTable::new(&rope_freqs(500.0, rope_dim, 1.0, None, None), 5..9, 1.0);
        let x: Vec<f32> = (0..heads * head_dim)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        for style in [RopeStyle::Adjacent, RopeStyle::NeoX] {
            for index in 0..4 {
                let mut y = x.clone();
                table.apply(&mut y, head_dim, index, style);
                let half = rope_dim / 2;
                let (cos, sin) = (&table.cos[index * half..], &table.sin[index * half..]);
                let mut want = x.clone();
                for head in want.chunks_exact_mut(head_dim) {
                    for i in 0..half {
                        let (a, b) = match style {
                            RopeStyle::Adjacent => (2 * i, 2 * i + 1),
                            RopeStyle::NeoX => (i, i + half),
                        };
                        let (x0, x1) = (head[a], head[b]);
                        head[a] = x0 * cos[i] - x1 * sin[i];
                        head[b] = x0 * sin[i] + x1 * cos[i];
                    }
                }
                let bits = |v: &[f32]| v.iter().map(|t| t.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&y), bits(&want), "{style:?} position {index}");
                for h in 0..heads {
                    let tail = h * head_dim + rope_dim..(h + 1) * head_dim;
                    assert_eq!(bits(&y[tail.clone()]), bits(&x[tail]), "{style:?}");
                }
                assert_ne!(bits(&y), bits(&x), "{style:?}: nothing turned");
            }
        }
    }

    #[test]
    fn rope_at_position_zero_is_the_identity() {
        let table = RopeTable::new(&rope_freqs(500_000.0, 8, 1.0, None, None), 0..1, 1.0);
        let x: Vec<f32> = (0..16).map(|i| i as f32 * 0.3 - 2.0).collect();
        let mut y = x.clone();
        table.apply(&mut y, 8, 0, RopeStyle::Adjacent);
        assert_eq!(x, y);
    }
}
