//! AVX2 + FMA + F16C row dots, chosen at run time. Each equals its scalar reference in
//! `dot.rs` up to float summation order; `tests/quant_kernels.rs` holds them to 1e-5.
//!
//! The integer kernels use ggml's idiom: `maddubs` multiplies unsigned weight bytes by signed
//! activation bytes into i16 pairs. The bounds that keep it from saturating: Q8_0 |w| <= 128 with
//! activations in [-127, 127] (2 * 128 * 127 = 32512), K-quant levels <= 63 (2 * 63 * 127).

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::dot::q8_k_parts;
use super::layout::{self, scale_min_k4};

/// Every f16 bit pattern widened to f32, as ggml's `ggml_table_f32_f16` (256 KiB, built once).
/// A table load has no register dependencies; widening with F16C inside these loops made LLVM
/// insert into the accumulator's register, chaining every block to the previous one.
fn f16_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|b| half::f16::from_bits(b).to_f32())
            .collect()
    })
}

#[inline(always)]
fn f16_at(table: &[f32], block: &[u8], range: std::ops::Range<usize>) -> f32 {
    table[usize::from(u16::from_le_bytes([
        block[range.start],
        block[range.start + 1],
    ]))]
}

#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Signed i8 x i8 products summed in pairs then quads: 8 i32 lanes as f32.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_i8(w: __m256i, a: __m256i) -> __m256 {
    let p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)))
}

#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn f32_row(w: &[u8], x: &[f32]) -> f32 {
    let n = x.len() / 8 * 8;
    let (wp, xp) = (w.as_ptr() as *const f32, x.as_ptr());
    let mut acc = _mm256_setzero_ps();
    for i in (0..n).step_by(8) {
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(wp.add(i)), _mm256_loadu_ps(xp.add(i)), acc);
    }
    hsum(acc) + super::dot::f32_row(&w[4 * n..], &x[n..])
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn f16_row(w: &[u8], x: &[f32]) -> f32 {
    let n = x.len() / 8 * 8;
    let mut acc = _mm256_setzero_ps();
    for i in (0..n).step_by(8) {
        let h = _mm_loadu_si128(w.as_ptr().add(2 * i) as *const __m128i);
        acc = _mm256_fmadd_ps(_mm256_cvtph_ps(h), _mm256_loadu_ps(x.as_ptr().add(i)), acc);
    }
    hsum(acc) + super::dot::f16_row(&w[2 * n..], &x[n..])
}

#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn bf16_row(w: &[u8], x: &[f32]) -> f32 {
    let n = x.len() / 8 * 8;
    let mut acc = _mm256_setzero_ps();
    for i in (0..n).step_by(8) {
        let h = _mm_loadu_si128(w.as_ptr().add(2 * i) as *const __m128i);
        let f = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        acc = _mm256_fmadd_ps(f, _mm256_loadu_ps(x.as_ptr().add(i)), acc);
    }
    hsum(acc) + super::dot::bf16_row(&w[2 * n..], &x[n..])
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q8_0_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q8_0::*;
    let t = f16_table();
    let mut acc = _mm256_setzero_ps();
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(SIZE)) {
        let wq = _mm256_loadu_si256(wb.as_ptr().add(QS.start) as *const __m256i);
        let aq = _mm256_loadu_si256(ab.as_ptr().add(QS.start) as *const __m256i);
        let d = _mm256_set1_ps(f16_at(t, wb, D) * f16_at(t, ab, D));
        acc = _mm256_fmadd_ps(d, dot_i8(wq, aq), acc);
    }
    hsum(acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q4_0_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q4_0::*;
    use layout::q8_0::{D as AD, QS as AQS, SIZE as ASIZE};
    let t = f16_table();
    let mask = _mm256_set1_epi8(0xF);
    let eight = _mm256_set1_epi8(8);
    let mut acc = _mm256_setzero_ps();
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(ASIZE)) {
        let bytes = _mm_loadu_si128(wb.as_ptr().add(QS.start) as *const __m128i);
        // Elements 0..16 are the low nibbles, 16..32 the high ones.
        let both = _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes);
        let wq = _mm256_sub_epi8(_mm256_and_si256(both, mask), eight);
        let aq = _mm256_loadu_si256(ab.as_ptr().add(AQS.start) as *const __m256i);
        let d = _mm256_set1_ps(f16_at(t, wb, D) * f16_at(t, ab, AD));
        acc = _mm256_fmadd_ps(d, dot_i8(wq, aq), acc);
    }
    hsum(acc)
}

/// Q4_K and Q5_K: `levels(wb, c)` gives the 32 unsigned levels of sub-blocks 2c and 2c + 1.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn kx_row(
    w: &[u8],
    a: &[u8],
    size: usize,
    levels: impl Fn(&[u8], usize) -> (__m256i, __m256i),
) -> f32 {
    use layout::q4_k::{D, DMIN, SCALES};
    let t = f16_table();
    let mut acc = _mm256_setzero_ps();
    let mut mins = 0.0f32;
    for (wb, ab) in w.chunks_exact(size).zip(a.chunks_exact(layout::q8_k::SIZE)) {
        let (da, aq, bsums) = q8_k_parts(ab);
        let mut isum = _mm256_setzero_si256();
        let mut msum = 0i32;
        for c in 0..4 {
            let (sc0, m0) = scale_min_k4(2 * c, &wb[SCALES]);
            let (sc1, m1) = scale_min_k4(2 * c + 1, &wb[SCALES]);
            let (lo, hi) = levels(wb, c);
            let a0 = _mm256_loadu_si256(aq.as_ptr().add(64 * c) as *const __m256i);
            let a1 = _mm256_loadu_si256(aq.as_ptr().add(64 * c + 32) as *const __m256i);
            let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, a0), _mm256_set1_epi16(sc0.into()));
            let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, a1), _mm256_set1_epi16(sc1.into()));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(p0, p1));
            msum += i32::from(m0) * (bsums[4 * c] + bsums[4 * c + 1])
                + i32::from(m1) * (bsums[4 * c + 2] + bsums[4 * c + 3]);
        }
        acc = _mm256_fmadd_ps(
            _mm256_set1_ps(f16_at(t, wb, D) * da),
            _mm256_cvtepi32_ps(isum),
            acc,
        );
        mins += f16_at(t, wb, DMIN) * da * msum as f32;
    }
    hsum(acc) - mins
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q4_k_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q4_k::{QS, SIZE};
    let mask = _mm256_set1_epi8(0xF);
    kx_row(w, a, SIZE, |wb, c| {
        let q = _mm256_loadu_si256(wb.as_ptr().add(QS.start + 32 * c) as *const __m256i);
        (
            _mm256_and_si256(q, mask),
            _mm256_and_si256(_mm256_srli_epi16(q, 4), mask),
        )
    })
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q5_k_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q5_k::{QH, QS, SIZE};
    let mask = _mm256_set1_epi8(0xF);
    let one = _mm256_set1_epi8(1);
    kx_row(w, a, SIZE, |wb, c| {
        let q = _mm256_loadu_si256(wb.as_ptr().add(QS.start + 32 * c) as *const __m256i);
        let qh = _mm256_loadu_si256(wb.as_ptr().add(QH.start) as *const __m256i);
        // Bit g of qh[l] is the fifth bit of sub-block g; shifting 16-bit lanes is safe because
        // only bit 0 of each byte survives the mask.
        let bit = |g: i32| {
            let shifted = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(g));
            _mm256_slli_epi16(_mm256_and_si256(shifted, one), 4)
        };
        let lo = _mm256_or_si256(_mm256_and_si256(q, mask), bit(2 * c as i32));
        let hi = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(q, 4), mask),
            bit(2 * c as i32 + 1),
        );
        (lo, hi)
    })
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q6_k_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q6_k::*;
    let mask4 = _mm256_set1_epi8(0xF);
    let mask2 = _mm256_set1_epi8(3);
    let t = f16_table();
    let mut acc = _mm256_setzero_ps();
    let mut offset = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(layout::q8_k::SIZE)) {
        let (da, aq, bsums) = q8_k_parts(ab);
        let sc = |i: usize| i16::from(wb[SCALES.start + i] as i8);
        let mut isum = _mm256_setzero_si256();
        for h in 0..2 {
            let ql0 = _mm256_loadu_si256(wb.as_ptr().add(QL.start + 64 * h) as *const __m256i);
            let ql1 = _mm256_loadu_si256(wb.as_ptr().add(QL.start + 64 * h + 32) as *const __m256i);
            let qh = _mm256_loadu_si256(wb.as_ptr().add(QH.start + 32 * h) as *const __m256i);
            let high = |s: i32| {
                let shifted = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * s));
                _mm256_slli_epi16(_mm256_and_si256(shifted, mask2), 4)
            };
            let lows = [
                _mm256_and_si256(ql0, mask4),
                _mm256_and_si256(ql1, mask4),
                _mm256_and_si256(_mm256_srli_epi16(ql0, 4), mask4),
                _mm256_and_si256(_mm256_srli_epi16(ql1, 4), mask4),
            ];
            for (s, low) in lows.into_iter().enumerate() {
                let q = _mm256_or_si256(low, high(s as i32));
                let av = _mm256_loadu_si256(aq.as_ptr().add(128 * h + 32 * s) as *const __m256i);
                let sub = 8 * h + 2 * s;
                let scales = _mm256_set_m128i(_mm_set1_epi16(sc(sub + 1)), _mm_set1_epi16(sc(sub)));
                isum =
                    _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(q, av), scales));
            }
        }
        // Levels are stored +32: subtract 32 * scale * (sum of the sub-block's activations).
        let bias: i32 = (0..16).map(|i| i32::from(sc(i)) * bsums[i]).sum();
        let d = f16_at(t, wb, D) * da;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
        offset += d * (32 * bias) as f32;
    }
    hsum(acc) - offset
}
