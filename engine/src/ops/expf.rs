//! `expf` as glibc computes it (`sysdeps/ieee754/flt-32/e_expf.c`, in the FMA build that x86-64
//! selects at run time): the same 32-entry table, the same polynomial and the same
//! double-precision steps, fused where that build fuses them. So SiLU gives the bits it gave
//! through libm here on every platform, and eight values at a time with AVX2 and FMA.
//!
//! Checked against this machine's libm (glibc 2.36, `__expf_fma`) on all 2^32 inputs: equal on
//! every one. Without the fused multiply-adds in `kd` and `r` (`z = InvLn2N * x` rounded first),
//! 2 inputs of 2^32 differ; GCC fuses both uses of that product.

/// 2^(i/32) as f64 bits, less i << 47 (`__exp2f_data.tab`): adding k << 47 back for
/// k = 32 e + i sets the exponent to e.
const TAB: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];

const N: f64 = 32.0;
/// 0x1.8p52: adding it rounds to an integer in the low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// 0x1.71547652b82fep0 (1 / ln 2, which `LOG2_E` is to the bit) times N.
const INV_LN2_N: f64 = std::f64::consts::LOG2_E * N;
/// 0x1.c6af84b912394p-5 / N^3, 0x1.ebfce50fac4f3p-3 / N^2, 0x1.62e42ff0c52d6p-1 / N.
const C0: f64 = 0.055_503_615_593_415_35 / (N * N * N);
const C1: f64 = 0.240_228_452_244_572_2 / (N * N);
const C2: f64 = 0.693_147_180_691_620_3 / N;

/// The top 12 bits of an f32 (sign and exponent) as glibc's `top12`, without the sign.
fn abstop(x: f32) -> u32 {
    (x.to_bits() >> 20) & 0x7ff
}

/// |x| >= 88, infinities and NaN: glibc's own answers, where the main path is not taken.
fn special(x: f32) -> Option<f32> {
    if abstop(x) < abstop(88.0) {
        return None;
    }
    Some(if x == f32::NEG_INFINITY {
        0.0
    } else if abstop(x) >= abstop(f32::INFINITY) {
        x + x
    } else if x > f32::from_bits(0x42b1_7217) {
        // Above log(2^128): overflow.
        f32::INFINITY
    } else if x < -f32::from_bits(0x42cf_f1b4) {
        // Below log(2^-150): underflow.
        0.0
    } else {
        return None;
    })
}

/// e^x, glibc's bits.
pub fn expf(x: f32) -> f32 {
    if let Some(v) = special(x) {
        return v;
    }
    let xd = f64::from(x);
    // x N / ln 2 = k + r, k an integer and |r| <= 1/2.
    let kd = INV_LN2_N.mul_add(xd, SHIFT);
    let ki = kd.to_bits();
    let r = INV_LN2_N.mul_add(xd, -(kd - SHIFT));
    // 2^(k / N) from the table, then 2^(r / N) by the cubic.
    let s = f64::from_bits(TAB[(ki % 32) as usize].wrapping_add(ki << 47));
    let z = C0.mul_add(r, C1);
    let y = C2.mul_add(r, 1.0);
    let y = z.mul_add(r * r, y);
    (y * s) as f32
}

/// `gate = silu(gate) * up`, SiLU as `x / (1 + expf(-x))`, elementwise.
pub fn silu_glu(gate: &mut [f32], up: &[f32], simd: bool) {
    #[cfg(target_arch = "x86_64")]
    if simd && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: AVX2 and FMA were just detected.
        unsafe { avx2::silu_glu(gate, up) };
        return;
    }
    let _ = simd;
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu(*g) * u;
    }
}

/// `x[i] = e^(x[i] - shift)` (softmax's exponentials), eight at a time with AVX2 and FMA.
pub fn exp_shifted(x: &mut [f32], shift: f32) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: AVX2 and FMA were just detected.
        unsafe { avx2::exp_shifted(x, shift) };
        return;
    }
    x.iter_mut().for_each(|v| *v = expf(*v - shift));
}

/// `x / (1 + e^-x)`.
pub fn silu(x: f32) -> f32 {
    x / (1.0 + expf(-x))
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    /// `expf` of four values, lane by lane the same operations (none of them special).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn expf4(x: __m128) -> __m128 {
        let xd = _mm256_cvtps_pd(x);
        let (inv, shift) = (_mm256_set1_pd(INV_LN2_N), _mm256_set1_pd(SHIFT));
        let kd = _mm256_fmadd_pd(inv, xd, shift);
        let ki = _mm256_castpd_si256(kd);
        let r = _mm256_fmsub_pd(inv, xd, _mm256_sub_pd(kd, shift));
        let index = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
        let t = _mm256_i64gather_epi64::<8>(TAB.as_ptr() as *const i64, index);
        let s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64::<47>(ki)));
        let z = _mm256_fmadd_pd(_mm256_set1_pd(C0), r, _mm256_set1_pd(C1));
        let y = _mm256_fmadd_pd(_mm256_set1_pd(C2), r, _mm256_set1_pd(1.0));
        let y = _mm256_fmadd_pd(z, _mm256_mul_pd(r, r), y);
        _mm256_cvtpd_ps(_mm256_mul_pd(y, s))
    }

    /// `expf` of eight values, or `None` if any is special (|x| >= 88, infinite or NaN): those
    /// runs go one value at a time.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn expf8(x: __m256) -> Option<__m256> {
        // The bits of |x| at or above 88.0's, as `special` tests (NaN's are above every finite
        // value's; 88.0's low 20 bits are 0, so this is its top-12 test).
        let abs = _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fff_ffff));
        let limit = _mm256_set1_epi32(88.0f32.to_bits() as i32 - 1);
        let special = _mm256_cmpgt_epi32(abs, limit);
        if _mm256_movemask_epi8(special) != 0 {
            return None;
        }
        Some(_mm256_set_m128(
            expf4(_mm256_extractf128_ps::<1>(x)),
            expf4(_mm256_castps256_ps128(x)),
        ))
    }

    /// Eight values at a time; a run of eight with any special input, and the tail, one at a
    /// time.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn silu_glu(gate: &mut [f32], up: &[f32]) {
        let n = gate.len().min(up.len());
        let whole = n / 8 * 8;
        for i in (0..whole).step_by(8) {
            let g = _mm256_loadu_ps(gate.as_ptr().add(i));
            let Some(e) = expf8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0))) else {
                for k in i..i + 8 {
                    gate[k] = silu(gate[k]) * up[k];
                }
                continue;
            };
            let silu = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0), e));
            let y = _mm256_mul_ps(silu, _mm256_loadu_ps(up.as_ptr().add(i)));
            _mm256_storeu_ps(gate.as_mut_ptr().add(i), y);
        }
        for k in whole..n {
            gate[k] = silu(gate[k]) * up[k];
        }
    }

    /// `exp_shifted` eight values at a time, as `silu_glu`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp_shifted(x: &mut [f32], shift: f32) {
        let whole = x.len() / 8 * 8;
        for i in (0..whole).step_by(8) {
            let d = _mm256_sub_ps(_mm256_loadu_ps(x.as_ptr().add(i)), _mm256_set1_ps(shift));
            match expf8(d) {
                Some(e) => _mm256_storeu_ps(x.as_mut_ptr().add(i), e),
                None => x[i..i + 8].iter_mut().for_each(|v| *v = expf(*v - shift)),
            }
        }
        x[whole..].iter_mut().for_each(|v| *v = expf(*v - shift));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 4099th f32 bit pattern, and the edges: the replica equals libm's `expf` where libm
    /// is glibc's (the machine this was measured on), and is within 1 ulp of it anywhere.
    #[test]
    fn expf_matches_glibc() {
        assert_eq!(INV_LN2_N.to_bits(), (0x3ff7_1547_652b_82fe_u64 + (5 << 52)));
        let edges = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            88.0,
            -88.0,
            88.72283,
            88.722_84,
            -103.972_08,
            -103.972_09,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            32.564_632,
        ];
        let glibc = cfg!(all(
            target_os = "linux",
            target_env = "gnu",
            target_arch = "x86_64"
        ));
        let samples = (0..u32::MAX / 4099).map(|k| f32::from_bits(k * 4099));
        for x in edges.into_iter().chain(samples) {
            let (got, want) = (expf(x), x.exp());
            if got.is_nan() || want.is_nan() {
                assert!(got.is_nan() && want.is_nan(), "{x}");
                continue;
            }
            let ulps = (i64::from(got.to_bits() as i32) - i64::from(want.to_bits() as i32)).abs();
            if glibc {
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "expf({x:e}): {got:e} vs {want:e}"
                );
            } else {
                assert!(ulps <= 1, "expf({x:e}): {got:e} vs libm {want:e}");
            }
        }
    }

    /// Softmax's exponentials equal `expf` one at a time, with special runs and a tail.
    #[test]
    fn exp_shifted_equals_expf_one_at_a_time() {
        let mut x: Vec<f32> = (0..8 * 40 + 5)
            .map(|i| ((i * 7919) % 331) as f32 / -3.0)
            .collect();
        for (k, v) in [f32::NEG_INFINITY, -100.0, f32::NAN, 95.0]
            .into_iter()
            .enumerate()
        {
            x[8 * (5 + 9 * k) + 2 * k] = v;
        }
        let want: Vec<f32> = x.iter().map(|&v| expf(v - 1.5)).collect();
        exp_shifted(&mut x, 1.5);
        for (i, (g, w)) in x.iter().zip(&want).enumerate() {
            assert!(
                g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                "[{i}] {g} {w}"
            );
        }
    }

    /// The vector SiLU-GLU equals the scalar one bit for bit, on random values and on runs of
    /// eight with a special input (|x| >= 88, infinities, NaN), with a tail of three.
    #[test]
    fn vector_silu_glu_equals_scalar() {
        let mut state = 11u32;
        let mut next = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 40.0
        };
        let n = 8 * 50 + 3;
        let mut gate: Vec<f32> = (0..n).map(|_| next()).collect();
        let up: Vec<f32> = (0..n).map(|_| next()).collect();
        for (k, v) in [90.0f32, -95.0, f32::NAN, f32::INFINITY, -200.0]
            .into_iter()
            .enumerate()
        {
            gate[8 * (3 + 7 * k) + k] = v;
        }
        let mut scalar = gate.clone();
        silu_glu(&mut scalar, &up, false);
        let mut vector = gate.clone();
        silu_glu(&mut vector, &up, true);
        for (i, (s, v)) in scalar.iter().zip(&vector).enumerate() {
            assert!(
                s.to_bits() == v.to_bits() || (s.is_nan() && v.is_nan()),
                "[{i}] {s} {v}"
            );
        }
        assert_eq!(scalar[0], silu(gate[0]) * up[0]);
        // Every 4099th bit pattern through both paths, times 1.
        let mut gate: Vec<f32> = (0..u32::MAX / 4099)
            .map(|k| f32::from_bits(k * 4099))
            .collect();
        let up = vec![1.0f32; gate.len()];
        let mut scalar = gate.clone();
        silu_glu(&mut scalar, &up, false);
        silu_glu(&mut gate, &up, true);
        for (i, (s, v)) in scalar.iter().zip(&gate).enumerate() {
            assert!(
                s.to_bits() == v.to_bits() || (s.is_nan() && v.is_nan()),
                "[{i}] {s} {v}"
            );
        }
    }
}
