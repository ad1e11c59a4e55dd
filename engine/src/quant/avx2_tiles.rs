//! AVX2 (with FMA and F16C) tile kernels for prefill (`gemm.rs`): Q4_K, Q5_K and Q6_K, `KR` = 2
//! rows by `T` = 2 tokens, each (row, token) in the AVX2 row dot's own eight lanes. The panel holds
//! each row's levels and its sub-block scales already broadcast for `vpmaddwd`, decoded once per
//! token chunk; the activations are read in place. Only sixteen registers: two by two leaves
//! room for the levels of both rows and the four (row, token) pairs' sums.
//!
//! Each (row, token) result equals the AVX2 row dot in `avx2.rs` bit for bit: the same exact
//! integer sums, then its float operations in its order.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::avx2::{
    f16_at, f16_table, hsum, hsum128, q4_k_levels, q5_k_levels, q6_k_levels, q8_k_scale,
    scales_mins_k4,
};
use super::gemm::drive_packed;
use super::{layout, QMatrix};

/// Rows and tokens per tile.
const KR: usize = 2;
const T: usize = 2;
/// Registers per row and block in a panel: the four chunks' low and high levels, the eight
/// sub-block scales each in every 16-bit lane, and the eight mins (16-bit, lanes 0..8) with d
/// and dmin as f32 in 32-bit lanes 4 and 5.
const PANEL: usize = 8 + 8 + 1;
/// Registers per token and block of the prepared data: the sub-block sums (pairs of the
/// 16-element sums, 16-bit lanes 0..8) with the scale as f32 in 32-bit lane 4.
const SIDE: usize = 1;

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn kx_pack<const Q5: bool>(w: &[&[u8]; KR], panel: &mut Vec<__m256i>) {
    use layout::q4_k::{D, DMIN, SCALES};
    let size = if Q5 {
        layout::q5_k::SIZE
    } else {
        layout::q4_k::SIZE
    };
    let t16 = f16_table();
    for b in 0..w[0].len() / size {
        for wr in w {
            let wb = &wr[b * size..(b + 1) * size];
            for c in 0..4 {
                let (lo, hi) = if Q5 {
                    q5_k_levels(wb, c)
                } else {
                    q4_k_levels(wb, c)
                };
                panel.extend([lo, hi]);
            }
            let (scales, mins) = scales_mins_k4(&wb[SCALES]);
            panel.extend((0..8).map(|g| _mm256_set1_epi16(((scales >> (8 * g)) & 0xFF) as i16)));
            let mins16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(mins as i64));
            let (d, dmin) = (f16_at(t16, wb, D), f16_at(t16, wb, DMIN));
            let scales = _mm_set_epi32(0, 0, dmin.to_bits() as i32, d.to_bits() as i32);
            panel.push(_mm256_set_m128i(scales, mins16));
        }
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn kx_prep(a: &[&[u8]; T], side: &mut Vec<__m256i>) {
    use layout::q8_k::{BSUMS, SIZE as ASIZE};
    for b in 0..a[0].len() / ASIZE {
        for at in a {
            let ab = &at[b * ASIZE..(b + 1) * ASIZE];
            let bsums = _mm256_loadu_si256(ab.as_ptr().add(BSUMS.start) as *const __m256i);
            let pair_sums = _mm_hadd_epi16(
                _mm256_castsi256_si128(bsums),
                _mm256_extracti128_si256::<1>(bsums),
            );
            let da = _mm_castps_si128(_mm_set_ss(q8_k_scale(ab)));
            side.push(_mm256_set_m128i(da, pair_sums));
        }
    }
}

/// Q4_K and Q5_K against Q8_K for `KR` rows and `T` tokens, lane for lane as the AVX2 row dot:
/// per chunk of 64 levels, `vpmaddubsw` of each half's 32 levels by its activations, then
/// `vpmaddwd` by its sub-block's scale, added into the block's eight sums; those converted and
/// multiplied by d * da into the (row, token)'s running sums, and the min term by dmin * da.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn kx_tile(panel: &[__m256i], side: &[__m256i], a: &[&[u8]; T], y: &mut [[f32; T]; KR]) {
    use layout::q8_k::{QS as AQS, SIZE as ASIZE};
    let blocks = side.len() / (SIDE * T);
    assert!(panel.len() == PANEL * KR * blocks && a.iter().all(|a| a.len() == blocks * ASIZE));
    let mut acc = [[_mm256_setzero_ps(); T]; KR];
    let mut acc_min = [[_mm_setzero_ps(); T]; KR];
    for b in 0..blocks {
        let p = panel.as_ptr().add(PANEL * KR * b);
        let s = side.as_ptr().add(SIDE * T * b);
        let mut isum = [[_mm256_setzero_si256(); T]; KR];
        for c in 0..4 {
            let levels: [[__m256i; 2]; KR] =
                std::array::from_fn(|i| [*p.add(PANEL * i + 2 * c), *p.add(PANEL * i + 2 * c + 1)]);
            for (j, at) in a.iter().enumerate() {
                let aq = at.as_ptr().add(b * ASIZE + AQS.start + 64 * c);
                let a0 = _mm256_loadu_si256(aq as *const __m256i);
                let a1 = _mm256_loadu_si256(aq.add(32) as *const __m256i);
                for (i, [lo, hi]) in levels.iter().enumerate() {
                    let sc = p.add(PANEL * i + 8 + 2 * c);
                    let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(*lo, a0), *sc);
                    let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(*hi, a1), *sc.add(1));
                    isum[i][j] = _mm256_add_epi32(isum[i][j], _mm256_add_epi32(p0, p1));
                }
            }
        }
        for i in 0..KR {
            let last = *p.add(PANEL * i + 16);
            let mins16 = _mm256_castsi256_si128(last);
            let dd = _mm_castsi128_ps(_mm256_extracti128_si256::<1>(last));
            let (d, dmin) = (_mm_cvtss_f32(dd), _mm_cvtss_f32(_mm_movehdup_ps(dd)));
            for j in 0..T {
                let tok = *s.add(SIDE * j);
                let da = _mm_cvtss_f32(_mm_castsi128_ps(_mm256_extracti128_si256::<1>(tok)));
                let terms = _mm_cvtepi32_ps(_mm_madd_epi16(mins16, _mm256_castsi256_si128(tok)));
                acc_min[i][j] = _mm_fmadd_ps(_mm_set1_ps(dmin * da), terms, acc_min[i][j]);
                let scale = _mm256_set1_ps(d * da);
                acc[i][j] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(isum[i][j]), acc[i][j]);
            }
        }
    }
    for i in 0..KR {
        for j in 0..T {
            y[i][j] = hsum(acc[i][j]) - hsum128(acc_min[i][j]);
        }
    }
}

/// The tiled products the dispatch table files under AVX2. SAFETY of callers: only run after
/// `Kernel::check` confirmed AVX2, FMA and F16C.
pub(crate) unsafe fn q4_k(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    kx::<false>(w, first, acts, n, out)
}

pub(crate) unsafe fn q5_k(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    kx::<true>(w, first, acts, n, out)
}

#[inline(always)]
unsafe fn kx<const Q5: bool>(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    drive_packed::<KR, T, __m256i>(
        w,
        first,
        acts,
        n,
        out,
        |w, panel| kx_pack::<Q5>(w, panel),
        |a, side| kx_prep(a, side),
        |panel, side, _, a, y| kx_tile(panel, side, a, y),
        |w, a| {
            if Q5 {
                super::avx2::q5_k_row(w, a)
            } else {
                super::avx2::q4_k_row(w, a)
            }
        },
    )
}

/// Registers per row and block in a Q6_K panel: the levels (stored +32) of the two halves' four
/// runs of 32, each run's two sub-block scales (16-bit, eight lanes each), the sixteen scales
/// as 16-bit lanes, and d as f32 in lane 0.
const Q6_PANEL: usize = 8 + 8 + 1 + 1;

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q6_k_pack(w: &[&[u8]; KR], panel: &mut Vec<__m256i>) {
    use layout::q6_k::{D, SCALES, SIZE};
    let t16 = f16_table();
    for b in 0..w[0].len() / SIZE {
        for wr in w {
            let wb = &wr[b * SIZE..(b + 1) * SIZE];
            let sc = |i: usize| i16::from(wb[SCALES.start + i] as i8);
            for h in 0..2 {
                panel.extend(q6_k_levels(wb, h));
            }
            for sub in (0..16).step_by(2) {
                panel.push(_mm256_set_m128i(
                    _mm_set1_epi16(sc(sub + 1)),
                    _mm_set1_epi16(sc(sub)),
                ));
            }
            let all: [i16; 16] = std::array::from_fn(sc);
            panel.push(_mm256_loadu_si256(all.as_ptr() as *const __m256i));
            panel.push(_mm256_castps_si256(_mm256_set1_ps(f16_at(t16, wb, D))));
        }
    }
}

/// A token tile's Q8_K data per block for Q6_K: each token's sixteen 16-element sums.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q6_k_prep(a: &[&[u8]; T], side: &mut Vec<__m256i>) {
    use layout::q8_k::{BSUMS, SIZE as ASIZE};
    for b in 0..a[0].len() / ASIZE {
        for at in a {
            let at = at.as_ptr().add(b * ASIZE + BSUMS.start);
            side.push(_mm256_loadu_si256(at as *const __m256i));
        }
    }
}

/// Q6_K against Q8_K for `KR` rows and `T` tokens, as the AVX2 row dot: the levels' eight sums
/// per block by `vpmaddubsw` and `vpmaddwd` with the run's scales, multiplied by d * da into the
/// running sums; the +32 offset, 32 times the scaled activation sums, into one running f32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q6_k_tile(panel: &[__m256i], side: &[__m256i], a: &[&[u8]; T], y: &mut [[f32; T]; KR]) {
    use layout::q8_k::{QS as AQS, SIZE as ASIZE};
    let blocks = side.len() / T;
    assert!(panel.len() == Q6_PANEL * KR * blocks && a.iter().all(|a| a.len() == blocks * ASIZE));
    let mut acc = [[_mm256_setzero_ps(); T]; KR];
    let mut offset = [[0.0f32; T]; KR];
    for b in 0..blocks {
        let p = panel.as_ptr().add(Q6_PANEL * KR * b);
        let mut isum = [[_mm256_setzero_si256(); T]; KR];
        for run in 0..8 {
            let (h, s) = (run / 4, run % 4);
            for (j, at) in a.iter().enumerate() {
                let av = at.as_ptr().add(b * ASIZE + AQS.start + 128 * h + 32 * s);
                let av = _mm256_loadu_si256(av as *const __m256i);
                for (i, isum) in isum.iter_mut().enumerate() {
                    let row = p.add(Q6_PANEL * i);
                    let scaled = _mm256_madd_epi16(
                        _mm256_maddubs_epi16(*row.add(run), av),
                        *row.add(8 + run),
                    );
                    isum[j] = _mm256_add_epi32(isum[j], scaled);
                }
            }
        }
        for i in 0..KR {
            let row = p.add(Q6_PANEL * i);
            let d = _mm256_cvtss_f32(_mm256_castsi256_ps(*row.add(17)));
            for j in 0..T {
                let da = q8_k_scale(&a[j][b * ASIZE..]);
                let sums = _mm256_madd_epi16(*row.add(16), *side.as_ptr().add(T * b + j));
                let bias = hsum_i32(sums);
                let d = d * da;
                acc[i][j] =
                    _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum[i][j]), acc[i][j]);
                offset[i][j] += d * (32 * bias) as f32;
            }
        }
    }
    for i in 0..KR {
        for j in 0..T {
            y[i][j] = hsum(acc[i][j]) - offset[i][j];
        }
    }
}

/// The sum of eight i32 lanes (exact, in any order).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn hsum_i32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s)))
}

pub(crate) unsafe fn q6_k(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    drive_packed::<KR, T, __m256i>(
        w,
        first,
        acts,
        n,
        out,
        |w, panel| q6_k_pack(w, panel),
        |a, side| q6_k_prep(a, side),
        |panel, side, _, a, y| q6_k_tile(panel, side, a, y),
        |w, a| super::avx2::q6_k_row(w, a),
    )
}
