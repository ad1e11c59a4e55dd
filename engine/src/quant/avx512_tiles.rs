//! AVX-512 (F, BW, VL, VNNI) tile kernels for prefill (`gemm.rs`): a tile of weight rows
//! against `T` = 4 tokens (`KT` = 8 for Q4_K and Q5_K), each row tile first packed into a panel (levels and scales decoded
//! once per token chunk) that every token tile reads.
//!
//! Q8_0, Q6_K, Q4_K and Q5_K tiles hold `LANES` = 16 rows, one per 32-bit lane: each panel
//! register holds four consecutive levels of all sixteen rows (a 16 x 16 transpose of the rows'
//! decoded levels), so that `vpdpbusd` of one register by four activations broadcast from
//! memory advances sixteen rows' sums at once and each row's block sum ends whole in its lane:
//! one multiply instruction per 64 multiply-adds. That needs a row dot whose float operations
//! start from the block's whole integer sum: the K-quant ones (the scalar kernel's order, which
//! the AVX-512 row dots follow) and Q8_0's.
//!
//! Q4_0, Q5_0, Q4_1 and Q5_1 tiles hold `LR` = 4 rows, each (row, token) in the row dot's own
//! sixteen lanes (a block pair's eight and eight); Q4_0/Q5_0's offset term is formed once per
//! token and block pair, Q4_1/Q5_1's scale and min products once per row for four tokens.
//!
//! F32, F16 and BF16 tiles hold `FR` = 4 rows by `FT` = 8 tokens, two tokens' eight running sums
//! to a register, and equal the AVX2 float row dots (AVX-512 has none of its own).
//!
//! Each (row, token) result equals the AVX-512 row dot in `avx512.rs` bit for bit: the integer
//! sums are exact however they are formed, and the float operations on them (conversion, the
//! multiply-add by the same f32 scale product, into the same running sums, the same final
//! reduction) are the row dot's, in its order.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::avx2::{f16_at, f16_table, q5_k_levels, q6_k_levels, q8_k_scale, FloatKind};
use super::avx512::{bytes_pair, dpwssd, join, load256, q4_k_levels64, two_scales};
use super::gemm::drive_packed;
use super::{layout, QMatrix};

/// Rows per tile: one per 32-bit lane.
pub(super) const LANES: usize = 16;
/// Tokens per tile, and per register of Q8_K side data (`kx_prep`): four tokens' sub-block sums
/// fill one.
const T: usize = 4;

/// A register of one 32-bit value per row, `lane(r)` for row r.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn rows_in_lanes(lane: impl Fn(usize) -> u32) -> __m512i {
    let v: [u32; LANES] = std::array::from_fn(lane);
    _mm512_loadu_si512(v.as_ptr() as *const _)
}

/// Token `j`'s results of the tile's rows (lane r is row r) into `y[j]`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn store_token<const N: usize>(v: __m512, j: usize, y: &mut [[f32; LANES]; N]) {
    _mm512_storeu_ps(y[j].as_mut_ptr(), v);
}

/// Registers per block of a Q8_0 panel of `LANES` rows: the quants (8: quants 4k..4k + 4 of
/// every row, made unsigned by adding 128) and d of every row as f32.
const Q8_PANEL: usize = 9;

/// Packs `LANES` Q8_0 rows into a panel with one row per 32-bit lane. `vpdpbusd` takes unsigned
/// bytes on one side: the weights get 128 added (their sign bit flipped), and the token's sums
/// start at -128 times the block's activation sum (`q8_0_prep`), so they end at sum(w * a).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn q8_0_pack(w: &[&[u8]; LANES], panel: &mut Vec<__m512i>) {
    use layout::q8_0::*;
    let t16 = f16_table();
    for b in 0..w[0].len() / SIZE {
        let block = |r: usize| &w[r][b * SIZE..(b + 1) * SIZE];
        for k in 0..8 {
            panel.push(rows_in_lanes(|r| {
                let q = u32::from_le_bytes(block(r)[QS.start + 4 * k..][..4].try_into().unwrap());
                q ^ 0x8080_8080
            }));
        }
        panel.push(rows_in_lanes(|r| f16_at(t16, block(r), D).to_bits()));
    }
}

/// A token tile's Q8_0 data per block besides the quants: -128 times each token's sum of quants
/// in lanes 0..4, each token's scale as f32 in lanes 4..8.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(super) unsafe fn q8_0_prep<const NT: usize>(a: &[&[u8]; NT], side: &mut Vec<__m512i>) {
    use layout::q8_0::*;
    const { assert!(NT <= T) };
    let t16 = f16_table();
    for b in 0..a[0].len() / SIZE {
        let ab = blocks_at(a, b, SIZE);
        let mut v = [0u32; 16];
        for (j, ab) in ab.iter().enumerate() {
            let sum: i32 = ab[QS].iter().map(|&q| i32::from(q as i8)).sum();
            v[j] = (-128 * sum) as u32;
            v[4 + j] = f16_at(t16, ab, D).to_bits();
        }
        side.push(_mm512_loadu_si512(v.as_ptr() as *const _));
    }
}

/// Q8_0 x Q8_0 for `LANES` rows (from their panel, one per lane) and `T` tokens: per block,
/// eight `vpdpbusd` of the rows' quants by four broadcast activations give each row's exact
/// dot in its lane, then the row dot's multiply-add into sum b % 4, lane by lane.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn q8_0_tile(
    panel: &[__m512i],
    side: &[__m512i],
    a: &[&[u8]; T],
    y: &mut [[f32; LANES]; T],
) {
    use layout::q8_0::*;
    let blocks = side.len();
    assert!(panel.len() == Q8_PANEL * blocks && a.iter().all(|a| a.len() == blocks * SIZE));
    let mut acc = [[_mm512_setzero_ps(); 4]; T];
    for b in 0..blocks {
        let p = panel.as_ptr().add(Q8_PANEL * b);
        let s = side.as_ptr().add(b) as *const i32;
        let quants: [__m512i; 8] = std::array::from_fn(|k| *p.add(k));
        let d = _mm512_castsi512_ps(*p.add(8));
        for (j, acc) in acc.iter_mut().enumerate() {
            let aq = a[j].as_ptr().add(b * SIZE + QS.start) as *const i32;
            let four = |k: usize| _mm512_set1_epi32(aq.add(k).read_unaligned());
            let (mut s0, mut s1) = (_mm512_set1_epi32(*s.add(j)), _mm512_setzero_si512());
            for k in (0..8).step_by(2) {
                s0 = _mm512_dpbusd_epi32(s0, quants[k], four(k));
                s1 = _mm512_dpbusd_epi32(s1, quants[k + 1], four(k + 1));
            }
            let dot = _mm512_add_epi32(s0, s1);
            let da = _mm512_set1_ps(*(s.add(4 + j) as *const f32));
            acc[b % 4] = _mm512_fmadd_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(dot), acc[b % 4]);
        }
    }
    for (j, acc) in acc.iter().enumerate() {
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        store_token(sum, j, y);
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

/// Registers per block of a Q8_K token tile's prepared data: the four tokens' sub-block sums in
/// pairs (token j's pair p in lane 4j + p, two 16-bit halves) and their scales in lanes 0..4.
pub(super) const KX_SIDE: usize = 2;

/// Four tokens' Q8_K data per block besides the quants: each token's sub-block sums (the sums
/// of its 32-element sub-blocks 2p and 2p + 1 side by side, for a `vpdpwssd` by a pair of
/// per-row factors) and its scale.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(super) unsafe fn kx_prep<const NT: usize>(a: &[&[u8]; NT], side: &mut Vec<__m512i>) {
    use layout::q8_k::{BSUMS, SIZE as ASIZE};
    const { assert!(NT <= T) };
    for b in 0..a[0].len() / ASIZE {
        let ab = blocks_at(a, b, ASIZE);
        let mut pair_sums = _mm512_setzero_si512();
        for (j, ab) in ab.iter().enumerate() {
            let bsums = load256(ab.as_ptr().add(BSUMS.start));
            let sums = _mm_hadd_epi16(
                _mm256_castsi256_si128(bsums),
                _mm256_extracti128_si256::<1>(bsums),
            );
            pair_sums = _mm512_mask_broadcast_i32x4(pair_sums, 0xF << (4 * j), sums);
        }
        let da: [f32; T] = std::array::from_fn(|j| if j < NT { q8_k_scale(ab[j]) } else { 0.0 });
        side.push(pair_sums);
        side.push(_mm512_castps_si512(_mm512_zextps128_ps512(_mm_loadu_ps(
            da.as_ptr(),
        ))));
    }
}

/// Tokens per Q4_K/Q5_K tile: each token's sub-block sum and block sum take a register, and
/// eight tokens' fill the registers the running totals leave.
const KT: usize = 8;
/// Registers per block of a Q4_K/Q5_K panel of `LANES` rows: the levels (64: sub-block s's
/// levels 4g..4g + 4 of every row at 8s + g), the sub-block scales (8, as i32), the mins in
/// pairs (4: sub-blocks 2q and 2q + 1 as two 16-bit halves), and d and dmin of every row.
const KX_PANEL: usize = KX_D + 2;
/// Where a Q4_K/Q5_K panel block's scales, mins in pairs, and d (then dmin) begin.
const KX_SCALES: usize = 64;
const KX_MINS: usize = KX_SCALES + 8;
const KX_D: usize = KX_MINS + 4;

/// Register k of the result holds 32-bit lane k of every input register (lane r from input r):
/// a 16 x 16 transpose of 32-bit values in three rounds of shuffles.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(v: [__m512i; LANES]) -> [__m512i; LANES] {
    // Pairs of rows interleaved, then quads: in every 128-bit lane L, quad[4G + m] holds rows
    // 4G..4G + 4 of lane 4L + m.
    let pairs: [__m512i; LANES] = std::array::from_fn(|i| {
        let (r0, r1) = (v[i & !1], v[i | 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_epi32(r0, r1)
        } else {
            _mm512_unpackhi_epi32(r0, r1)
        }
    });
    let quad: [__m512i; LANES] = std::array::from_fn(|i| {
        let (g, m) = (i / 4, i % 4);
        let (p0, p1) = (pairs[4 * g + m / 2], pairs[4 * g + 2 + m / 2]);
        if m % 2 == 0 {
            _mm512_unpacklo_epi64(p0, p1)
        } else {
            _mm512_unpackhi_epi64(p0, p1)
        }
    });
    // Output k = 4L + m takes 128-bit lane L of quad[4G + m] for G = 0..4.
    let mut out = [_mm512_setzero_si512(); LANES];
    for m in 0..4 {
        let q = |g: usize| quad[4 * g + m];
        let (a, b) = (
            _mm512_shuffle_i32x4::<0x44>(q(0), q(1)),
            _mm512_shuffle_i32x4::<0xEE>(q(0), q(1)),
        );
        let (c, d) = (
            _mm512_shuffle_i32x4::<0x44>(q(2), q(3)),
            _mm512_shuffle_i32x4::<0xEE>(q(2), q(3)),
        );
        out[m] = _mm512_shuffle_i32x4::<0x88>(a, c);
        out[4 + m] = _mm512_shuffle_i32x4::<0xDD>(a, c);
        out[8 + m] = _mm512_shuffle_i32x4::<0x88>(b, d);
        out[12 + m] = _mm512_shuffle_i32x4::<0xDD>(b, d);
    }
    out
}

/// Sixteen bytes of every row's block (from `at(r)` for row r) as four registers: register k
/// holds bytes 4k..4k + 4 of row r in lane r.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn rows_sixteen(at: impl Fn(usize) -> *const u8) -> [__m512i; 4] {
    let t = transpose16(std::array::from_fn(|r| {
        _mm512_zextsi128_si512(_mm_loadu_si128(at(r) as *const __m128i))
    }));
    [t[0], t[1], t[2], t[3]]
}

/// Byte `k` (0..4) of every 32-bit lane, zero-extended (`SIGNED = false`) or sign-extended.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn lane_byte<const SIGNED: bool>(v: __m512i, k: usize) -> __m512i {
    let top = _mm512_sll_epi32(v, _mm_cvtsi32_si128(24 - 8 * k as i32));
    if SIGNED {
        _mm512_srai_epi32::<24>(top)
    } else {
        _mm512_srli_epi32::<24>(top)
    }
}

/// Packs `LANES` Q4_K (`Q5 = false`) or Q5_K rows into a panel with one row per 32-bit lane:
/// each chunk of 64 levels decoded per row as the row dot decodes it, then transposed.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn kx_pack<const Q5: bool>(w: &[&[u8]; LANES], panel: &mut Vec<__m512i>) {
    use layout::q4_k::{D, DMIN, SCALES};
    const { assert!(D.start == 0 && DMIN.start == 2 && SCALES.start == 4 && SCALES.end == 16) };
    let size = if Q5 {
        layout::q5_k::SIZE
    } else {
        layout::q4_k::SIZE
    };
    let t16 = f16_table();
    for b in 0..w[0].len() / size {
        let block = |r: usize| &w[r][b * size..(b + 1) * size];
        for c in 0..4 {
            panel.extend(transpose16(std::array::from_fn(|r| {
                if Q5 {
                    let (lo, hi) = q5_k_levels(block(r), c);
                    join(lo, hi)
                } else {
                    q4_k_levels64(block(r), c)
                }
            })));
        }
        // The twelve scale bytes of all rows at once, unpacked as `scales_mins_k4` does.
        let [dm, w0, w1, w2] = rows_sixteen(|r| block(r).as_ptr());
        let bits = |v: __m512i, m: u32| _mm512_and_si512(v, _mm512_set1_epi32(m as i32));
        let (sc_lo, m_lo) = (bits(w0, 0x3f3f_3f3f), bits(w1, 0x3f3f_3f3f));
        let sc_hi = _mm512_or_si512(
            bits(w2, 0x0f0f_0f0f),
            bits(_mm512_srli_epi32::<2>(w0), 0x3030_3030),
        );
        let m_hi = _mm512_or_si512(
            bits(_mm512_srli_epi32::<4>(w2), 0x0f0f_0f0f),
            bits(_mm512_srli_epi32::<2>(w1), 0x3030_3030),
        );
        for k in 0..8 {
            panel.push(lane_byte::<false>(if k < 4 { sc_lo } else { sc_hi }, k % 4));
        }
        for q in 0..4 {
            let mins = if q < 2 { m_lo } else { m_hi };
            let (lo, hi) = (2 * q % 4, 2 * q % 4 + 1);
            panel.push(_mm512_or_si512(
                lane_byte::<false>(mins, lo),
                _mm512_slli_epi32::<16>(lane_byte::<false>(mins, hi)),
            ));
        }
        // d and dmin are the low and high halves of the first word, looked up as `f16_at` does.
        let table = t16.as_ptr();
        let low = _mm512_and_si512(dm, _mm512_set1_epi32(0xFFFF));
        panel.push(_mm512_castps_si512(_mm512_i32gather_ps::<4>(low, table)));
        let high = _mm512_srli_epi32::<16>(dm);
        panel.push(_mm512_castps_si512(_mm512_i32gather_ps::<4>(high, table)));
    }
}

/// Q4_K and Q5_K against Q8_K for `LANES` rows (from their panel, one per lane) and `KT`
/// tokens, as the scalar row dot sums a block: per sub-block, eight `vpdpbusd` of the rows'
/// levels by four broadcast activations give each row's exact sub-block dot in its lane, times
/// its scale (`vpmulld`) into the block's sum; the min term's exact sum from four `vpdpwssd` of
/// the mins by the token's sub-block sums. The float operations on the two sums are the scalar
/// row dot's, lane by lane, so each lane equals it (and the AVX-512 row dot) bit for bit.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn kx_tile(
    panel: &[__m512i],
    side: &[__m512i],
    a: &[&[u8]; KT],
    y: &mut [[f32; LANES]; KT],
) {
    use layout::q8_k::{QS as AQS, SIZE as ASIZE};
    // The side holds each four tokens' run of blocks (`kx_prep`), one run after the other.
    let blocks = side.len() / (KT / T * KX_SIDE);
    assert!(panel.len() == KX_PANEL * blocks && a.iter().all(|a| a.len() == blocks * ASIZE));
    let zero = _mm512_setzero_si512();
    let mut acc = [_mm512_setzero_ps(); KT];
    for b in 0..blocks {
        let p = panel.as_ptr().add(KX_PANEL * b);
        let mut isum = [zero; KT];
        for sb in 0..8 {
            let mut dot = [zero; KT];
            for g in 0..8 {
                let levels = *p.add(8 * sb + g);
                for (j, dot) in dot.iter_mut().enumerate() {
                    let at = b * ASIZE + AQS.start + 32 * sb + 4 * g;
                    let four = (a[j].as_ptr().add(at) as *const i32).read_unaligned();
                    *dot = _mm512_dpbusd_epi32(*dot, levels, _mm512_set1_epi32(four));
                }
            }
            let scale = *p.add(KX_SCALES + sb);
            for (isum, dot) in isum.iter_mut().zip(dot) {
                *isum = _mm512_add_epi32(*isum, _mm512_mullo_epi32(dot, scale));
            }
        }
        let (d, dmin) = (
            _mm512_castsi512_ps(*p.add(KX_D)),
            _mm512_castsi512_ps(*p.add(KX_D + 1)),
        );
        for (j, (acc, isum)) in acc.iter_mut().zip(isum).enumerate() {
            let s = side.as_ptr().add((j / T * blocks + b) * KX_SIDE) as *const i32;
            let k = j % T;
            let mut msum = zero;
            for q in 0..4 {
                msum = dpwssd(
                    msum,
                    *p.add(KX_MINS + q),
                    _mm512_set1_epi32(*s.add(4 * k + q)),
                );
            }
            let da = _mm512_set1_ps(*(s.add(16 + k) as *const f32));
            let term = _mm512_sub_ps(
                _mm512_mul_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(isum)),
                _mm512_mul_ps(_mm512_mul_ps(dmin, da), _mm512_cvtepi32_ps(msum)),
            );
            *acc = _mm512_add_ps(*acc, term);
        }
    }
    for (j, acc) in acc.iter().enumerate() {
        store_token(*acc, j, y);
    }
}

/// Registers per block of a Q6_K panel of `LANES` rows: the levels (64: sub-block k's levels
/// 4g..4g + 4 of every row, stored +32, for k < 16 and g < 4), the sub-block scales (16), the
/// scales in pairs (8, as two 16-bit halves), and d of every row.
const Q6_PANEL: usize = 64 + 16 + 8 + 1;

/// Packs `LANES` Q6_K rows into a panel with one row per 32-bit lane (as `q8_0_pack`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn q6_k_pack(w: &[&[u8]; LANES], panel: &mut Vec<__m512i>) {
    use layout::q6_k::*;
    let t16 = f16_table();
    for b in 0..w[0].len() / SIZE {
        let block = |r: usize| &w[r][b * SIZE..(b + 1) * SIZE];
        // Elements 64c..64c + 64 of every row, transposed: sub-block k's levels 4g..4g + 4 are
        // 32-bit word 4k + g, the panel's order.
        let rows: [[__m512i; 4]; LANES] = std::array::from_fn(|r| {
            let [a, b, c, d] = q6_k_levels(block(r), 0);
            let [e, f, g, h] = q6_k_levels(block(r), 1);
            [join(a, b), join(c, d), join(e, f), join(g, h)]
        });
        for c in 0..4 {
            panel.extend(transpose16(rows.map(|levels| levels[c])));
        }
        let scales = rows_sixteen(|r| block(r)[SCALES].as_ptr());
        let scale = |k: usize| lane_byte::<true>(scales[k / 4], k % 4);
        for k in 0..16 {
            panel.push(scale(k));
        }
        for m in 0..8 {
            let lo = _mm512_and_si512(scale(2 * m), _mm512_set1_epi32(0xFFFF));
            panel.push(_mm512_or_si512(
                lo,
                _mm512_slli_epi32::<16>(scale(2 * m + 1)),
            ));
        }
        panel.push(rows_in_lanes(|r| f16_at(t16, block(r), D).to_bits()));
    }
}

/// Q6_K against Q8_K for `LANES` rows (from their panel, one per lane) and `T` tokens: per
/// sub-block of 16, four `vpdpbusd` of the rows' levels by four broadcast activations and one
/// `vpmulld` by its scale; the levels' +32 comes off as 32 times the scales by the sub-block
/// sums (`vpdpwssd` of pairs of scales by pairs of the token's 16-element sums). The lane then
/// holds the row dot's exact integer sum, and the multiply-add is the row dot's.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn q6_k_tile(
    panel: &[__m512i],
    side: &[__m512i],
    a: &[&[u8]; T],
    y: &mut [[f32; LANES]; T],
) {
    use layout::q8_k::{BSUMS, QS as AQS, SIZE as ASIZE};
    let zero = _mm512_setzero_si512();
    let blocks = side.len() / KX_SIDE;
    assert!(panel.len() == Q6_PANEL * blocks && a.iter().all(|a| a.len() == blocks * ASIZE));
    let mut acc = [_mm512_setzero_ps(); T];
    for b in 0..blocks {
        let p = panel.as_ptr().add(Q6_PANEL * b);
        let s = side.as_ptr().add(KX_SIDE * b) as *const i32;
        let mut isum = [zero; T];
        for k in 0..16 {
            let levels: [__m512i; 4] = std::array::from_fn(|g| *p.add(4 * k + g));
            let sc = *p.add(64 + k);
            for (j, isum) in isum.iter_mut().enumerate() {
                let aq = a[j].as_ptr().add(b * ASIZE + AQS.start + 16 * k) as *const i32;
                let four = |g: usize| _mm512_set1_epi32(aq.add(g).read_unaligned());
                let s0 = _mm512_dpbusd_epi32(zero, levels[0], four(0));
                let s1 = _mm512_dpbusd_epi32(zero, levels[1], four(1));
                let s0 = _mm512_dpbusd_epi32(s0, levels[2], four(2));
                let s1 = _mm512_dpbusd_epi32(s1, levels[3], four(3));
                *isum = _mm512_add_epi32(*isum, _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), sc));
            }
        }
        let d = _mm512_castsi512_ps(*p.add(88));
        for (j, acc) in acc.iter_mut().enumerate() {
            let bsums = a[j].as_ptr().add(b * ASIZE + BSUMS.start) as *const i32;
            let mut bias = zero;
            for m in 0..8 {
                let pair = _mm512_set1_epi32(bsums.add(m).read_unaligned());
                bias = _mm512_dpwssd_epi32(bias, *p.add(80 + m), pair);
            }
            let isum = _mm512_sub_epi32(isum[j], _mm512_slli_epi32::<5>(bias));
            let da = _mm512_set1_ps(*(s.add(16 + j) as *const f32));
            *acc = _mm512_fmadd_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(isum), *acc);
        }
    }
    for (j, acc) in acc.iter().enumerate() {
        store_token(*acc, j, y);
    }
}

/// The tiled products the dispatch table files under AVX-512. SAFETY of callers: only run after
/// `Kernel::check` confirmed AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
pub(crate) unsafe fn q8_0(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    drive_packed::<LANES, T, __m512i>(
        w,
        first,
        acts,
        n,
        out,
        |w, panel| q8_0_pack(w, panel),
        |a, side| q8_0_prep(a, side),
        |panel, side, _, a, y| q8_0_tile(panel, side, a, y),
        |w, a| super::avx512::q8_0_row(w, a),
    )
}

pub(crate) unsafe fn q4_k(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    kx::<false>(w, first, acts, n, out, |w, a| super::avx512::q4_k_row(w, a))
}

pub(crate) unsafe fn q5_k(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    kx::<true>(w, first, acts, n, out, |w, a| super::avx512::q5_k_row(w, a))
}

#[inline(always)]
unsafe fn kx<const Q5: bool>(
    w: &QMatrix,
    first: usize,
    acts: &[u8],
    n: usize,
    out: &mut [f32],
    row: impl Fn(&[u8], &[u8]) -> f32,
) {
    drive_packed::<LANES, KT, __m512i>(
        w,
        first,
        acts,
        n,
        out,
        |w, panel| kx_pack::<Q5>(w, panel),
        |a, side| {
            for four in a.chunks_exact(T) {
                kx_prep::<T>(four.try_into().expect("four tokens"), side);
            }
        },
        |panel, side, _, a, y| kx_tile(panel, side, a, y),
        row,
    )
}

pub(crate) unsafe fn q6_k(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    drive_packed::<LANES, T, __m512i>(
        w,
        first,
        acts,
        n,
        out,
        |w, panel| q6_k_pack(w, panel),
        // The scales of the Q8_K tokens, as the Q4_K tile takes them (its sums go unused).
        |a, side| kx_prep(a, side),
        |panel, side, _, a, y| q6_k_tile(panel, side, a, y),
        |w, a| super::avx512::q6_k_row(w, a),
    )
}

/// Float rows per tile, and tokens (in pairs: a register holds two tokens' eight lanes each).
const FR: usize = 4;
const FT: usize = 8;

impl FloatKind {
    /// Elements 8c..8c + 8 of a row, widened to f32, in both halves of a register.
    #[inline(always)]
    unsafe fn eight_twice(self, row: &[u8], c: usize) -> __m512 {
        let p = row.as_ptr().add(8 * c * self.size());
        match self {
            FloatKind::F32 => {
                _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd(p as *const f64)))
            }
            FloatKind::F16 => {
                _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128(p as *const _)))
            }
            FloatKind::Bf16 => {
                let h = _mm256_broadcastsi128_si256(_mm_loadu_si128(p as *const _));
                _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
            }
        }
    }
}

/// A float token tile's activations: for each pair of tokens and each eight elements, the first
/// token's eight then the second's, as one register.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn float_prep(a: &[&[u8]; FT], side: &mut Vec<__m512>) {
    let x: [&[f32]; FT] = a.map(bytemuck::cast_slice);
    for c in 0..x[0].len() / 8 {
        for pair in x.chunks_exact(2) {
            let lo = _mm256_loadu_ps(pair[0][8 * c..].as_ptr());
            let hi = _mm256_loadu_ps(pair[1][8 * c..].as_ptr());
            let both = _mm512_insertf64x4::<1>(
                _mm512_castpd256_pd512(_mm256_castps_pd(lo)),
                _mm256_castps_pd(hi),
            );
            side.push(_mm512_castpd_ps(both));
        }
    }
}

/// F32, F16 and BF16 rows against f32 activations for `FR` rows and `FT` tokens, lane for lane
/// as the AVX2 row dot: each (row, token) keeps its eight running sums, one multiply-add per
/// eight elements in order (two tokens' eights to a register), then the same horizontal sum
/// and the same scalar tail.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn float_tile(
    kind: FloatKind,
    side: &[__m512],
    w: &[&[u8]; FR],
    a: &[&[u8]; FT],
    y: &mut [[f32; FR]; FT],
) {
    const PAIRS: usize = FT / 2;
    let chunks = side.len() / PAIRS;
    assert!(w.iter().all(|w| w.len() >= 8 * chunks * kind.size()));
    let mut acc = [[_mm512_setzero_ps(); PAIRS]; FR];
    for c in 0..chunks {
        let x = &side[PAIRS * c..][..PAIRS];
        let wv: [__m512; FR] = std::array::from_fn(|i| kind.eight_twice(w[i], c));
        for (acc, wv) in acc.iter_mut().zip(wv) {
            for (acc, &x) in acc.iter_mut().zip(x) {
                *acc = _mm512_fmadd_ps(wv, x, *acc);
            }
        }
    }
    let done = 8 * chunks;
    for (i, acc) in acc.iter().enumerate() {
        let w_tail = &w[i][done * kind.size()..];
        for (p, acc) in acc.iter().enumerate() {
            for (h, sum) in [
                _mm512_castps512_ps256(*acc),
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(*acc))),
            ]
            .into_iter()
            .enumerate()
            {
                let j = 2 * p + h;
                let x: &[f32] = bytemuck::cast_slice(a[j]);
                y[j][i] = super::avx2::hsum(sum) + kind.tail(w_tail, &x[done..]);
            }
        }
    }
}

/// F32, F16 and BF16 weights against the tokens' f32 activations (`acts` as their bytes).
pub(crate) unsafe fn float(
    kind: FloatKind,
    w: &QMatrix,
    first: usize,
    acts: &[u8],
    n: usize,
    out: &mut [f32],
) {
    drive_packed::<FR, FT, __m512>(
        w,
        first,
        acts,
        n,
        out,
        |_, _| {},
        |a, side| float_prep(a, side),
        |_, side, ws, a, y| float_tile(kind, side, ws, a, y),
        |w, a| kind.row(w, bytemuck::cast_slice(a)),
    )
}

/// Q4_0 and Q5_0 rows per tile; the tokens are `T`.
const LR: usize = 4;
/// Registers per row and block pair in a Q4_0/Q5_0 panel: the two blocks' levels (unsigned, as
/// stored) and their d as f32, eight lanes each.
const LEGACY_PANEL: usize = 2;
/// Registers per token and block pair of a Q8_0 token tile's prepared data: the two blocks'
/// quants, the offset term (the stored offset times each group of four activations) and the
/// two blocks' d as f32, eight lanes each.
const LEGACY_SIDE: usize = 3;

/// Packs `LR` Q4_0 (`Q5 = false`) or Q5_0 rows: each block pair's levels and scales.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn legacy_pack<const Q5: bool>(w: &[&[u8]; LR], panel: &mut Vec<__m512i>) {
    let size = if Q5 {
        layout::q5_0::SIZE
    } else {
        layout::q4_0::SIZE
    };
    let t16 = f16_table();
    for p in 0..w[0].len() / (2 * size) {
        for wr in w {
            let w2 = &wr[2 * p * size..];
            panel.push(if Q5 {
                use layout::q5_0::{QH, QS};
                super::avx512::five_bit_pair(w2, QH.start, QS.start, size)
            } else {
                super::avx512::nibbles_pair(w2, layout::q4_0::QS.start, size)
            });
            let d = |b: &[u8]| f16_at(t16, b, layout::q4_0::D);
            panel.push(_mm512_castps_si512(two_scales(d(w2), d(&w2[size..]))));
        }
    }
}

/// A token tile's Q8_0 data per block pair: the quants, the offset term of `OFFSET` (8 for
/// Q4_0, 16 for Q5_0) and the scales.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn legacy_prep<const OFFSET: i8>(a: &[&[u8]; T], side: &mut Vec<__m512i>) {
    use layout::q8_0::{D, QS, SIZE};
    let t16 = f16_table();
    let offset = _mm512_set1_epi8(OFFSET);
    for p in 0..a[0].len() / (2 * SIZE) {
        for at in a {
            let a2 = &at[2 * p * SIZE..];
            let aq = bytes_pair(a2, QS.start, SIZE);
            side.push(aq);
            side.push(_mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, aq));
            let d = |b: &[u8]| f16_at(t16, b, D);
            side.push(_mm512_castps_si512(two_scales(d(a2), d(&a2[SIZE..]))));
        }
    }
}

/// Q4_0 and Q5_0 against Q8_0 for `LR` rows and `T` tokens, lane for lane as the AVX-512 row
/// dot: per block pair, each lane's `vpdpbusd` of levels by activations less the offset term,
/// converted and multiplied by the pair's scale products into the (row, token)'s sixteen
/// running sums; an odd last block through the AVX2 row dot, added after the reduction.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn legacy_tile(
    panel: &[__m512i],
    side: &[__m512i],
    w: &[&[u8]; LR],
    a: &[&[u8]; T],
    y: &mut [[f32; LR]; T],
    size: usize,
    tail: impl Fn(&[u8], &[u8]) -> f32,
) {
    use layout::q8_0::SIZE as ASIZE;
    let zero = _mm512_setzero_si512();
    let pairs = side.len() / (LEGACY_SIDE * T);
    assert!(panel.len() == LEGACY_PANEL * LR * pairs);
    let mut acc = [[_mm512_setzero_ps(); T]; LR];
    for p in 0..pairs {
        let rows = panel.as_ptr().add(LEGACY_PANEL * LR * p);
        let toks = side.as_ptr().add(LEGACY_SIDE * T * p);
        for (j, tok) in (0..T).map(|j| toks.add(LEGACY_SIDE * j)).enumerate() {
            let (aq, off, da) = (*tok, *tok.add(1), _mm512_castsi512_ps(*tok.add(2)));
            for (i, acc) in acc.iter_mut().enumerate() {
                let row = rows.add(LEGACY_PANEL * i);
                let dot = _mm512_sub_epi32(_mm512_dpbusd_epi32(zero, *row, aq), off);
                let scale = _mm512_mul_ps(_mm512_castsi512_ps(*row.add(1)), da);
                acc[j] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(dot), acc[j]);
            }
        }
    }
    for (i, acc) in acc.iter().enumerate() {
        for (j, acc) in acc.iter().enumerate() {
            let rest = tail(&w[i][2 * pairs * size..], &a[j][2 * pairs * ASIZE..]);
            y[j][i] = _mm512_reduce_add_ps(*acc) + rest;
        }
    }
}

#[inline(always)]
unsafe fn legacy<const Q5: bool>(
    w: &QMatrix,
    first: usize,
    acts: &[u8],
    n: usize,
    out: &mut [f32],
) {
    // The AVX2 row dot finishes an odd last block; the AVX-512 one takes leftover pairs.
    type RowDot = unsafe fn(&[u8], &[u8]) -> f32;
    let (size, tail, row): (usize, RowDot, RowDot) = if Q5 {
        (
            layout::q5_0::SIZE,
            super::avx2::q5_0_row,
            super::avx512::q5_0_row,
        )
    } else {
        (
            layout::q4_0::SIZE,
            super::avx2::q4_0_row,
            super::avx512::q4_0_row,
        )
    };
    drive_packed::<LR, T, __m512i>(
        w,
        first,
        acts,
        n,
        out,
        |w, panel| legacy_pack::<Q5>(w, panel),
        |a, side| {
            if Q5 {
                legacy_prep::<16>(a, side)
            } else {
                legacy_prep::<8>(a, side)
            }
        },
        |panel, side, ws, a, y| legacy_tile(panel, side, ws, a, y, size, |w, a| tail(w, a)),
        |w, a| row(w, a),
    )
}

pub(crate) unsafe fn q4_0(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    legacy::<false>(w, first, acts, n, out)
}

pub(crate) unsafe fn q5_0(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    legacy::<true>(w, first, acts, n, out)
}

/// Registers per row and block pair in a Q4_1/Q5_1 panel: the two blocks' levels, and their
/// [d, m, d, m] as f32 in every 128-bit lane.
const LEGACY_MIN_PANEL: usize = 2;
/// Registers per block pair of a Q8_1 token tile's prepared data: each token's quants, then
/// the four tokens' [d, s, d, s] as f32 side by side (token j's in lanes 4j..4j + 4).
const LEGACY_MIN_SIDE: usize = T + 1;

/// An f16 pair of each of two consecutive blocks (at the start of each `size` bytes) as f32:
/// [block 0's first, its second, block 1's first, its second].
#[inline(always)]
unsafe fn f16_pairs(b2: &[u8], size: usize) -> __m128 {
    let word = |b: &[u8]| i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    _mm_cvtph_ps(_mm_set_epi32(0, 0, word(&b2[size..]), word(b2)))
}

/// Packs `LR` Q4_1 (`Q5 = false`) or Q5_1 rows: each block pair's levels and [d, m, d, m].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn legacy_min_pack<const Q5: bool>(w: &[&[u8]; LR], panel: &mut Vec<__m512i>) {
    let (size, qs) = super::avx2::legacy_min_geometry::<Q5>();
    for p in 0..w[0].len() / (2 * size) {
        for wr in w {
            let w2 = &wr[2 * p * size..];
            panel.push(if Q5 {
                super::avx512::five_bit_pair(w2, layout::q5_1::QH.start, qs, size)
            } else {
                super::avx512::nibbles_pair(w2, qs, size)
            });
            panel.push(_mm512_castps_si512(_mm512_broadcast_f32x4(f16_pairs(
                w2, size,
            ))));
        }
    }
}

/// A token tile's Q8_1 data per block pair: each token's quants and the four tokens' [d, s].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn legacy_min_prep(a: &[&[u8]; T], side: &mut Vec<__m512i>) {
    use layout::q8_1::{QS, SIZE};
    for p in 0..a[0].len() / (2 * SIZE) {
        let mut ds = [0.0f32; 4 * T];
        for (j, at) in a.iter().enumerate() {
            let a2 = &at[2 * p * SIZE..];
            side.push(bytes_pair(a2, QS.start, SIZE));
            _mm_storeu_ps(ds[4 * j..].as_mut_ptr(), f16_pairs(a2, SIZE));
        }
        side.push(_mm512_castps_si512(_mm512_loadu_ps(ds.as_ptr())));
    }
}

/// Q4_1 and Q5_1 against Q8_1 for `LR` rows and `T` tokens, lane for lane as the AVX-512 row
/// dot: per block pair, the four products [d_w d_a, m s, d_w d_a, m s] of every token at once
/// (one multiply a row), added into the (row, token)'s min sums, its two scales picked from
/// them for the sixteen running sums of the levels' `vpdpbusd`; an odd last block through the
/// AVX2 row dot, added after the reduction, and the min sums' odd lanes last.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn legacy_min_tile<const Q5: bool>(
    panel: &[__m512i],
    side: &[__m512i],
    w: &[&[u8]; LR],
    a: &[&[u8]; T],
    y: &mut [[f32; LR]; T],
) {
    use layout::q8_1::SIZE as ASIZE;
    const { assert!(T == 4, "four tokens' [d, s, d, s] fill one register") };
    let (size, _) = super::avx2::legacy_min_geometry::<Q5>();
    let tail = if Q5 {
        super::avx2::q5_1_row
    } else {
        super::avx2::q4_1_row
    };
    let zero = _mm512_setzero_si512();
    let pairs = side.len() / LEGACY_MIN_SIDE;
    assert!(panel.len() == LEGACY_MIN_PANEL * LR * pairs);
    // Token j's scales: product 4j (block 0's) in lanes 0..8, product 4j + 2 in lanes 8..16.
    let picks: [__m512i; T] = std::array::from_fn(|j| {
        let (b0, b1) = (4 * j as i32, 4 * j as i32 + 2);
        _mm512_set_epi32(
            b1, b1, b1, b1, b1, b1, b1, b1, b0, b0, b0, b0, b0, b0, b0, b0,
        )
    });
    let mut acc = [[_mm512_setzero_ps(); T]; LR];
    let mut acc_min = [_mm512_setzero_ps(); LR];
    for p in 0..pairs {
        let rows = panel.as_ptr().add(LEGACY_MIN_PANEL * LR * p);
        let toks = side.as_ptr().add(LEGACY_MIN_SIDE * p);
        let ds = _mm512_castsi512_ps(*toks.add(T));
        for (i, (acc, acc_min)) in acc.iter_mut().zip(acc_min.iter_mut()).enumerate() {
            let row = rows.add(LEGACY_MIN_PANEL * i);
            let products = _mm512_mul_ps(_mm512_castsi512_ps(*row.add(1)), ds);
            *acc_min = _mm512_add_ps(*acc_min, products);
            for (j, acc) in acc.iter_mut().enumerate() {
                let dot = _mm512_dpbusd_epi32(zero, *row, *toks.add(j));
                let scales = _mm512_permutexvar_ps(picks[j], products);
                *acc = _mm512_fmadd_ps(scales, _mm512_cvtepi32_ps(dot), *acc);
            }
        }
    }
    for i in 0..LR {
        let mut mins = [0.0f32; 16];
        _mm512_storeu_ps(mins.as_mut_ptr(), acc_min[i]);
        for j in 0..T {
            let rest = tail(&w[i][2 * pairs * size..], &a[j][2 * pairs * ASIZE..]);
            let dot = _mm512_reduce_add_ps(acc[i][j]) + rest;
            y[j][i] = dot + (mins[4 * j + 1] + mins[4 * j + 3]);
        }
    }
}

#[inline(always)]
unsafe fn legacy_min<const Q5: bool>(
    w: &QMatrix,
    first: usize,
    acts: &[u8],
    n: usize,
    out: &mut [f32],
) {
    drive_packed::<LR, T, __m512i>(
        w,
        first,
        acts,
        n,
        out,
        |w, panel| legacy_min_pack::<Q5>(w, panel),
        |a, side| legacy_min_prep(a, side),
        |panel, side, ws, a, y| legacy_min_tile::<Q5>(panel, side, ws, a, y),
        |w, a| {
            if Q5 {
                super::avx512::q5_1_row(w, a)
            } else {
                super::avx512::q4_1_row(w, a)
            }
        },
    )
}

pub(crate) unsafe fn q4_1(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    legacy_min::<false>(w, first, acts, n, out)
}

pub(crate) unsafe fn q5_1(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    legacy_min::<true>(w, first, acts, n, out)
}
