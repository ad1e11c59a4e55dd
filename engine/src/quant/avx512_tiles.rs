//! AVX-512 (F, BW, VL, VNNI) tile kernels for prefill (`gemm.rs`): `R` weight rows against `T`
//! tokens, each (row, token) pair's result equal bit for bit to the AVX-512 row dot in
//! `avx512.rs`. The integer sums are exact, so they may be formed differently as long as each
//! i32 lane ends up with the row dot's value; the float operations on them (conversion, the
//! fused multiply-add with the same f32 scale product, the final reductions) are the row dot's,
//! in its order.
//!
//! What a tile saves: weight levels and scales are decoded once per block for `T` tokens,
//! activations loaded (and for Q8_0 made unsigned) once for `R` rows, and the K-quants' sub-block
//! scales enter through `vpdpwssd` (one instruction per 64 levels for scale and sum) instead of
//! a permute and a 32-bit multiply.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::avx2::{
    f16_at, f16_table, hsum128, q4_k_levels, q5_k_levels, q8_k_scale, scales_mins_k4,
};
use super::avx512::{join, load256, two_scales};
use super::gemm::drive;
use super::{layout, QMatrix};

/// Weight rows per tile and tokens per tile: 16 accumulators of the 32 vector registers, the
/// rest for one chunk's levels and scales of each row and the activation being multiplied.
const R: usize = 4;
const T: usize = 4;

/// Two consecutive Q8_0 blocks: their 64 quants, and their scales in lanes 0..8 and 8..16.
/// (A function with the target features rather than a closure, so the intrinsics inline.)
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn q8_0_pair(t16: &[f32], b: &[u8]) -> (__m512i, __m512) {
    use layout::q8_0::*;
    (
        join(
            load256(b.as_ptr().add(QS.start)),
            load256(b.as_ptr().add(SIZE + QS.start)),
        ),
        two_scales(f16_at(t16, b, D), f16_at(t16, &b[SIZE..], D)),
    )
}

/// 32 16-bit lanes, `lane(l)` in lane l.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn lanes16(lane: impl Fn(usize) -> i16) -> __m512i {
    let lanes: [i16; 32] = std::array::from_fn(lane);
    _mm512_loadu_si512(lanes.as_ptr() as *const _)
}

/// Q8_0 x Q8_0 for `R` rows and `T` tokens. `vpdpbusd` takes unsigned bytes on one side: the
/// activations get 128 added (their sign bit flipped), and each i32 lane starts at -128 times
/// the sum of its four weights, so that it ends at sum(w * a) exactly, as the row dot's lane.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn q8_0_tile(w: &[&[u8]; R], a: &[&[u8]; T], y: &mut [[f32; T]; R]) {
    use layout::q8_0::*;
    let t16 = f16_table();
    let pairs = w[0].len() / (2 * SIZE);
    let zero = _mm512_setzero_si512();
    let flip = _mm512_set1_epi8(i8::MIN);
    let mut acc = [[_mm512_setzero_ps(); T]; R];
    for p in 0..pairs {
        let at = 2 * SIZE * p;
        let mut wq = [zero; R];
        let mut start = [zero; R];
        let mut wd = [_mm512_setzero_ps(); R];
        for i in 0..R {
            (wq[i], wd[i]) = q8_0_pair(t16, &w[i][at..at + 2 * SIZE]);
            // 0x80 as an unsigned byte is 128: 128 * (sum of each four weights), negated.
            start[i] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, flip, wq[i]));
        }
        for j in 0..T {
            let (aq, ad) = q8_0_pair(t16, &a[j][at..at + 2 * SIZE]);
            let au = _mm512_xor_si512(aq, flip);
            for i in 0..R {
                let dot = _mm512_dpbusd_epi32(start[i], au, wq[i]);
                // The row dot's scale is the f32 product d_w * d_a per block: the same product.
                acc[i][j] =
                    _mm512_fmadd_ps(_mm512_mul_ps(wd[i], ad), _mm512_cvtepi32_ps(dot), acc[i][j]);
            }
        }
    }
    // A row with an odd number of blocks ends on the AVX2 row for its last block, as the row dot.
    let done = 2 * SIZE * pairs;
    for i in 0..R {
        for j in 0..T {
            let tail = super::avx2::q8_0_row(&w[i][done..], &a[j][done..]);
            y[i][j] = _mm512_reduce_add_ps(acc[i][j]) + tail;
        }
    }
}

/// Block `b` of each row (`size` bytes a block), as slices.
#[inline(always)]
fn blocks_at<'a, const N: usize>(rows: &[&'a [u8]; N], b: usize, size: usize) -> [&'a [u8]; N] {
    let mut out = [&[][..]; N];
    for (o, r) in out.iter_mut().zip(rows) {
        *o = &r[b * size..(b + 1) * size];
    }
    out
}

/// The four tokens' Q8_K scales, each in four lanes (token j in lanes 4j..4j + 4: the layout of
/// the packed min terms), and each broadcast alone.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn token_scales(ab: &[&[u8]; T]) -> (__m512, [__m512; T]) {
    let da: [f32; T] = std::array::from_fn(|j| q8_k_scale(ab[j]));
    let quads = _mm512_set_ps(
        da[3], da[3], da[3], da[3], da[2], da[2], da[2], da[2], da[1], da[1], da[1], da[1], da[0],
        da[0], da[0], da[0],
    );
    (quads, da.map(|d| _mm512_set1_ps(d)))
}

/// Q4_K (`Q5 = false`) and Q5_K against Q8_K for `R` rows and `T` = 4 tokens. Per 64 levels
/// (two sub-blocks), `maddubs` forms pairs of products and `vpdpwssd` multiplies each pair by its
/// sub-block's scale and adds both into the lane: the row dot's lane, sc * (sum of four
/// products), summed over the block. The row dot's four-lane min terms of the four tokens sit
/// side by side in one register per row, so one `madd`, conversion and multiply-add serve all
/// four, lane for lane as the row dot's.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn kx_tile<const Q5: bool>(w: &[&[u8]; R], a: &[&[u8]; T], y: &mut [[f32; T]; R]) {
    use layout::q4_k::{D, DMIN, SCALES};
    use layout::q8_k::{BSUMS, QS as AQS, SIZE as ASIZE};
    const { assert!(T == 4, "four tokens' min terms fill one register") };
    let size = if Q5 {
        layout::q5_k::SIZE
    } else {
        layout::q4_k::SIZE
    };
    let t16 = f16_table();
    let blocks = w[0].len() / size;
    let zero = _mm512_setzero_si512();
    // 16-bit scales for chunk c: sub-block 2c's in the low half (its 32 levels), 2c + 1's above.
    let pick: [__m512i; 4] =
        std::array::from_fn(|c| lanes16(|l| (2 * c + usize::from(l >= 16)) as i16));
    let mut acc = [[_mm512_setzero_ps(); T]; R];
    let mut acc_min = [_mm512_setzero_ps(); R];
    for b in 0..blocks {
        let wb = blocks_at(w, b, size);
        let ab = blocks_at(a, b, ASIZE);
        // Each token's sums of its sub-blocks' activations, as kx_min_term forms them.
        let mut pair_sums = zero;
        for (j, ab) in ab.iter().enumerate() {
            let bsums = load256(ab.as_ptr().add(BSUMS.start));
            let sums = _mm_hadd_epi16(
                _mm256_castsi256_si128(bsums),
                _mm256_extracti128_si256::<1>(bsums),
            );
            pair_sums = _mm512_mask_broadcast_i32x4(pair_sums, 0xF << (4 * j), sums);
        }
        let (da_quads, da) = token_scales(&ab);
        let mut sc16 = [zero; R];
        for i in 0..R {
            let (scales, mins) = scales_mins_k4(&wb[i][SCALES]);
            sc16[i] = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales as i64)));
            let mins16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(mins as i64));
            let terms = _mm512_madd_epi16(_mm512_broadcast_i32x4(mins16), pair_sums);
            let dmin = _mm512_mul_ps(_mm512_set1_ps(f16_at(t16, wb[i], DMIN)), da_quads);
            acc_min[i] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(terms), acc_min[i]);
        }
        let mut isum = [[zero; T]; R];
        for (c, pick) in pick.iter().enumerate() {
            let mut levels = [zero; R];
            let mut sc = [zero; R];
            for i in 0..R {
                let (lo, hi) = if Q5 {
                    q5_k_levels(wb[i], c)
                } else {
                    q4_k_levels(wb[i], c)
                };
                levels[i] = join(lo, hi);
                sc[i] = _mm512_permutexvar_epi16(*pick, sc16[i]);
            }
            for j in 0..T {
                let av = _mm512_loadu_si512(ab[j].as_ptr().add(AQS.start + 64 * c) as *const _);
                for i in 0..R {
                    let pairs = _mm512_maddubs_epi16(levels[i], av);
                    isum[i][j] = _mm512_dpwssd_epi32(isum[i][j], pairs, sc[i]);
                }
            }
        }
        for i in 0..R {
            let d = _mm512_set1_ps(f16_at(t16, wb[i], D));
            for j in 0..T {
                // d * da as the row dot's scalar product, in every lane.
                let scale = _mm512_mul_ps(d, da[j]);
                acc[i][j] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(isum[i][j]), acc[i][j]);
            }
        }
    }
    for i in 0..R {
        let mut mins = [0.0f32; 16];
        _mm512_storeu_ps(mins.as_mut_ptr(), acc_min[i]);
        for j in 0..T {
            let quad = _mm_loadu_ps(mins[4 * j..].as_ptr());
            y[i][j] = _mm512_reduce_add_ps(acc[i][j]) - hsum128(quad);
        }
    }
}

/// Q6_K against Q8_K for `R` rows and `T` tokens. Each 64 levels are four sub-blocks of 16;
/// their scales enter through `vpdpwssd` as in `kx_tile`, and each lane starts at -32 times its
/// sub-block's scale and activation sum (the levels are stored +32), which the row dot subtracts
/// at the end: the same integers.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn q6_k_tile(w: &[&[u8]; R], a: &[&[u8]; T], y: &mut [[f32; T]; R]) {
    use layout::q6_k::*;
    use layout::q8_k::{BSUMS, QS as AQS, SIZE as ASIZE};
    let t16 = f16_table();
    let blocks = w[0].len() / SIZE;
    let zero = _mm512_setzero_si512();
    let low4 = _mm512_set1_epi8(0xF);
    let low2 = _mm512_set1_epi8(3);
    // Sub-block k of a chunk of 64 levels is 16-bit lanes 8k..8k + 8.
    let pick: [__m512i; 4] = std::array::from_fn(|chunk| lanes16(|l| (4 * chunk + l / 8) as i16));
    // The high two bits of the levels in the low and high half of each chunk: sub-blocks 32s..
    // of a half take bits 2s, 2s + 1 of qh, s = 0, 1 for the low nibbles and 2, 3 for the high.
    let shifts: [__m512i; 2] =
        std::array::from_fn(|half| lanes16(|l| (4 * half + 2 * usize::from(l >= 16)) as i16));
    let mut acc = [[_mm512_setzero_ps(); T]; R];
    for b in 0..blocks {
        let wb = blocks_at(w, b, SIZE);
        let ab = blocks_at(a, b, ASIZE);
        let mut bsums = [zero; T];
        for j in 0..T {
            bsums[j] = _mm512_cvtepu16_epi32(load256(ab[j].as_ptr().add(BSUMS.start)));
        }
        let mut sc16 = [zero; R];
        let mut isum = [[zero; T]; R];
        for i in 0..R {
            let raw = _mm_loadu_si128(wb[i].as_ptr().add(SCALES.start) as *const __m128i);
            sc16[i] = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(raw));
            // -32 * scale as 32-bit lanes (low 16 bits exact) against the activation sums
            // zero-extended: vpdpwssd adds -32 * sc * bsum, the high halves meeting zeros.
            let bias = _mm512_mullo_epi32(_mm512_cvtepi8_epi32(raw), _mm512_set1_epi32(-32));
            for j in 0..T {
                isum[i][j] = _mm512_dpwssd_epi32(zero, bias, bsums[j]);
            }
        }
        for h in 0..2 {
            for half in 0..2 {
                let mut levels = [zero; R];
                let mut sc = [zero; R];
                for i in 0..R {
                    let ql = _mm512_loadu_si512(wb[i].as_ptr().add(QL.start + 64 * h) as *const _);
                    let nibbles = if half == 0 {
                        _mm512_and_si512(ql, low4)
                    } else {
                        _mm512_and_si512(_mm512_srli_epi16::<4>(ql), low4)
                    };
                    let qh = _mm512_broadcast_i64x4(load256(wb[i].as_ptr().add(QH.start + 32 * h)));
                    let high = _mm512_and_si512(_mm512_srlv_epi16(qh, shifts[half]), low2);
                    levels[i] = _mm512_or_si512(nibbles, _mm512_slli_epi16::<4>(high));
                    sc[i] = _mm512_permutexvar_epi16(pick[2 * h + half], sc16[i]);
                }
                for j in 0..T {
                    let at = AQS.start + 128 * h + 64 * half;
                    let av = _mm512_loadu_si512(ab[j].as_ptr().add(at) as *const _);
                    for i in 0..R {
                        let pairs = _mm512_maddubs_epi16(levels[i], av);
                        isum[i][j] = _mm512_dpwssd_epi32(isum[i][j], pairs, sc[i]);
                    }
                }
            }
        }
        let da: [__m512; T] = std::array::from_fn(|j| _mm512_set1_ps(q8_k_scale(ab[j])));
        for i in 0..R {
            let d = _mm512_set1_ps(f16_at(t16, wb[i], D));
            for j in 0..T {
                let scale = _mm512_mul_ps(d, da[j]);
                acc[i][j] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(isum[i][j]), acc[i][j]);
            }
        }
    }
    for i in 0..R {
        for j in 0..T {
            y[i][j] = _mm512_reduce_add_ps(acc[i][j]);
        }
    }
}

/// The tiled products the dispatch table files under AVX-512. SAFETY of callers: only run after
/// `Kernel::check` confirmed AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
pub(crate) unsafe fn q8_0(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    drive::<R, T>(
        w,
        first,
        acts,
        n,
        out,
        |w, a, y| q8_0_tile(w, a, y),
        |w, a| super::avx512::q8_0_row(w, a),
    )
}

pub(crate) unsafe fn q4_k(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    drive::<R, T>(
        w,
        first,
        acts,
        n,
        out,
        |w, a, y| kx_tile::<false>(w, a, y),
        |w, a| super::avx512::q4_k_row(w, a),
    )
}

pub(crate) unsafe fn q5_k(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    drive::<R, T>(
        w,
        first,
        acts,
        n,
        out,
        |w, a, y| kx_tile::<true>(w, a, y),
        |w, a| super::avx512::q5_k_row(w, a),
    )
}

pub(crate) unsafe fn q6_k(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    drive::<R, T>(
        w,
        first,
        acts,
        n,
        out,
        |w, a, y| q6_k_tile(w, a, y),
        |w, a| super::avx512::q6_k_row(w, a),
    )
}
