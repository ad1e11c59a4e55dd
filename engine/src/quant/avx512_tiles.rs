//! AVX-512 (F, BW, VL, VNNI) tile kernels for prefill (`gemm.rs`): a tile of weight rows
//! against `T` = 4 tokens, each row tile first packed into a panel (levels and scales decoded
//! once per token chunk) that every token tile reads.
//!
//! Q8_0 and Q6_K tiles hold `LANES` = 16 rows, one per 32-bit lane: each panel register holds
//! four consecutive levels of all sixteen rows, so that `vpdpbusd` of one register by four
//! activations broadcast from memory advances sixteen rows' sums at once and each row's block
//! sum ends whole in its lane: one multiply instruction per 64 multiply-adds. Q4_K and Q5_K
//! tiles hold `KR` = 3 rows, each in the row dot's own 16 lanes (the parity obligations at
//! round-off hold only with that float order), and scale two chunks' packed 16-bit sums with one
//! `vpdpwssd`.
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

use super::avx2::{
    f16_at, f16_table, hsum128, q5_k_levels, q6_k_levels, q8_k_scale, scales_mins_k4, FloatKind,
};
use super::avx512::{
    bytes_pair, dpwssd, join, kx_scale_pairs, load256, pack_pair, q4_k_levels64, two_scales,
};
use super::gemm::drive_packed;
use super::{layout, QMatrix};

/// Rows per tile: one per 32-bit lane.
const LANES: usize = 16;
/// Tokens per tile: the K-quant tiles hold four tokens' min terms in one register, and four
/// tokens' sums fit the registers the levels leave.
const T: usize = 4;

/// A register of one 32-bit value per row, `lane(r)` for row r.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn rows_in_lanes(lane: impl Fn(usize) -> u32) -> __m512i {
    let v: [u32; LANES] = std::array::from_fn(lane);
    _mm512_loadu_si512(v.as_ptr() as *const _)
}

/// Token `j`'s results of the tile's rows (lane r is row r) into column `j` of `y`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn store_column(v: __m512, j: usize, y: &mut [[f32; T]; LANES]) {
    let mut lanes = [0.0f32; LANES];
    _mm512_storeu_ps(lanes.as_mut_ptr(), v);
    for (yr, v) in y.iter_mut().zip(lanes) {
        yr[j] = v;
    }
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
unsafe fn q8_0_prep(a: &[&[u8]; T], side: &mut Vec<__m512i>) {
    use layout::q8_0::*;
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
    y: &mut [[f32; T]; LANES],
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
        store_column(sum, j, y);
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
/// pairs (token j's pair p in lane 4j + p, two 16-bit halves) and their scales in lanes 0..4;
/// with `BIASED`, then each token's quants plus 128 (four registers a token).
const KX_SIDE: usize = 2;
const KX_SIDE_BIASED: usize = KX_SIDE + 4 * T;

/// A token tile's Q8_K data per block: each token's sub-block sums (pairs of its 16-element
/// sums, as `kx_min_term` forms them) and its scale, and with `BIASED` its quants made unsigned
/// (`kx_tile` takes them so).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn kx_prep<const BIASED: bool>(a: &[&[u8]; T], side: &mut Vec<__m512i>) {
    use layout::q8_k::{BSUMS, QS as AQS, SIZE as ASIZE};
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
        let da: [f32; T] = std::array::from_fn(|j| q8_k_scale(ab[j]));
        side.push(pair_sums);
        side.push(_mm512_castps_si512(_mm512_zextps128_ps512(_mm_loadu_ps(
            da.as_ptr(),
        ))));
        if BIASED {
            let flip = _mm512_set1_epi8(i8::MIN);
            for ab in ab {
                for c in 0..4 {
                    let q = _mm512_loadu_si512(ab.as_ptr().add(AQS.start + 64 * c) as *const _);
                    side.push(_mm512_xor_si512(q, flip));
                }
            }
        }
    }
}

/// Q4_K and Q5_K rows per tile: one row's 16 running sums per register, as the row dot keeps
/// them, so three rows by four tokens fill the registers.
const KR: usize = 3;
/// Registers per row and block in a Q4_K/Q5_K panel: the four chunks of 64 levels, the
/// sub-block scales of chunk pairs (0, 1) and (2, 3) as 16-bit pairs, the eight mins (16-bit,
/// lanes 0..8) with d and dmin as f32 in 32-bit lanes 4 and 5, and the sums' starting values
/// (`kx_tile`'s correction for its unsigned activations).
const KX_PANEL: usize = 4 + 2 + 1 + 1;

/// Packs `KR` Q4_K (`Q5 = false`) or Q5_K rows into a panel, block by block and row by row:
/// what the tile would otherwise decode again for every token tile.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn kx_pack<const Q5: bool>(w: &[&[u8]; KR], panel: &mut Vec<__m512i>) {
    use layout::q4_k::{D, DMIN, SCALES};
    let size = if Q5 {
        layout::q5_k::SIZE
    } else {
        layout::q4_k::SIZE
    };
    let t16 = f16_table();
    let (zero, ones) = (_mm512_setzero_si512(), _mm512_set1_epi8(1));
    for b in 0..w[0].len() / size {
        for wr in w {
            let wb = &wr[b * size..(b + 1) * size];
            let levels: [__m512i; 4] = std::array::from_fn(|c| {
                if Q5 {
                    let (lo, hi) = q5_k_levels(wb, c);
                    join(lo, hi)
                } else {
                    q4_k_levels64(wb, c)
                }
            });
            panel.extend(levels);
            let (scales, mins) = scales_mins_k4(&wb[SCALES]);
            let pairs = kx_scale_pairs(scales);
            panel.extend(pairs);
            let mins16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(mins as i64));
            let (d, dmin) = (f16_at(t16, wb, D), f16_at(t16, wb, DMIN));
            let scales = _mm_set_epi32(0, 0, dmin.to_bits() as i32, d.to_bits() as i32);
            panel.push(_mm512_inserti32x4::<1>(
                _mm512_castsi128_si512(mins16),
                scales,
            ));
            // -128 times each lane's scaled level sums: what the tile's activations, 128 too
            // large, add.
            let level_sums = levels.map(|l| _mm512_dpbusd_epi32(zero, l, ones));
            let scaled = pairs.iter().enumerate().fold(zero, |acc, (p, &pair)| {
                dpwssd(
                    acc,
                    pack_pair(level_sums[2 * p], level_sums[2 * p + 1]),
                    pair,
                )
            });
            panel.push(_mm512_sub_epi32(zero, _mm512_slli_epi32::<7>(scaled)));
        }
    }
}

/// Q4_K and Q5_K against Q8_K for `KR` rows (from their panel) and `T` = 4 tokens, lane for
/// lane as the row dot: each i32 lane l sums, over the block's four chunks of 64 levels, the
/// chunk's sub-block scale times the `vpdpbusd` sum of its levels 4l..4l + 4. The activations
/// come 128 too large (unsigned, from `kx_prep`), so that both chunk sums of a pair are
/// non-negative and below 2^15: the first chunk's `vpdpbusd` adds onto the second's shifted up
/// 16 bits, leaving the two side by side in each lane for one `vpdpwssd` by the pair of scales,
/// and the sums start from the panel's -128 times the scaled level sums, which cancels the
/// excess exactly. The four tokens' four-lane min terms sit side by side in one register per
/// row, so one `madd`, conversion and multiply-add serve all four.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn kx_tile(panel: &[__m512i], side: &[__m512i], a: &[&[u8]; T], y: &mut [[f32; T]; KR]) {
    use layout::q8_k::SIZE as ASIZE;
    const { assert!(T == 4, "four tokens' min terms fill one register") };
    let zero = _mm512_setzero_si512();
    let blocks = side.len() / KX_SIDE_BIASED;
    assert!(panel.len() == KX_PANEL * KR * blocks && a.iter().all(|a| a.len() == blocks * ASIZE));
    let mut acc = [[_mm512_setzero_ps(); T]; KR];
    let mut acc_min = [_mm512_setzero_ps(); KR];
    for b in 0..blocks {
        let p = panel.as_ptr().add(KX_PANEL * KR * b);
        let s = side.as_ptr().add(KX_SIDE_BIASED * b);
        // The panel's f32 d and dmin of row i.
        let d_of = |i: usize, k: usize| *(p.add(KX_PANEL * i + 6) as *const f32).add(4 + k);
        // Token j's scale in lanes 4j..4j + 4, for the four tokens' min terms.
        let quad_of = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
        let da_quads = _mm512_permutexvar_ps(quad_of, _mm512_castsi512_ps(*s.add(1)));
        for (i, acc_min) in acc_min.iter_mut().enumerate() {
            let mins16 = _mm512_castsi512_si128(*p.add(KX_PANEL * i + 6));
            let terms = _mm512_madd_epi16(_mm512_broadcast_i32x4(mins16), *s);
            let dmin = _mm512_mul_ps(_mm512_set1_ps(d_of(i, 1)), da_quads);
            *acc_min = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(terms), *acc_min);
        }
        let mut isum: [[__m512i; T]; KR] = std::array::from_fn(|i| [*p.add(KX_PANEL * i + 7); T]);
        for pair in 0..2 {
            for (j, av) in (0..T)
                .map(|j| s.add(KX_SIDE + 4 * j + 2 * pair))
                .enumerate()
            {
                let (a0, a1) = (*av, *av.add(1));
                for (i, isum) in isum.iter_mut().enumerate() {
                    let row = p.add(KX_PANEL * i);
                    let second = _mm512_dpbusd_epi32(zero, a1, *row.add(2 * pair + 1));
                    let packed = _mm512_dpbusd_epi32(
                        _mm512_slli_epi32::<16>(second),
                        a0,
                        *row.add(2 * pair),
                    );
                    isum[j] = dpwssd(isum[j], packed, *row.add(4 + pair));
                }
            }
        }
        // d * da as the row dot's scalar product: the four tokens' at once for each row, then
        // broadcast into every lane from memory by the multiply-add itself.
        let da4 = _mm512_castps512_ps128(_mm512_castsi512_ps(*s.add(1)));
        let mut scales = [[0.0f32; T]; KR];
        for (i, row) in scales.iter_mut().enumerate() {
            _mm_storeu_ps(row.as_mut_ptr(), _mm_mul_ps(_mm_set1_ps(d_of(i, 0)), da4));
        }
        for i in 0..KR {
            for j in 0..T {
                let scale = _mm512_set1_ps(scales[i][j]);
                acc[i][j] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(isum[i][j]), acc[i][j]);
            }
        }
    }
    for i in 0..KR {
        let mut mins = [0.0f32; 16];
        _mm512_storeu_ps(mins.as_mut_ptr(), acc_min[i]);
        for j in 0..T {
            let quad = _mm_loadu_ps(mins[4 * j..].as_ptr());
            y[i][j] = _mm512_reduce_add_ps(acc[i][j]) - hsum128(quad);
        }
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
        let mut levels = [[0u8; 256]; LANES];
        for (r, lv) in levels.iter_mut().enumerate() {
            for h in 0..2 {
                for (q, v) in q6_k_levels(block(r), h).into_iter().enumerate() {
                    _mm256_storeu_si256(lv.as_mut_ptr().add(128 * h + 32 * q) as *mut __m256i, v);
                }
            }
        }
        for k in 0..16 {
            for g in 0..4 {
                panel.push(rows_in_lanes(|r| {
                    u32::from_le_bytes(levels[r][16 * k + 4 * g..][..4].try_into().unwrap())
                }));
            }
        }
        let scale = |r: usize, k: usize| block(r)[SCALES.start + k] as i8;
        for k in 0..16 {
            panel.push(rows_in_lanes(|r| i32::from(scale(r, k)) as u32));
        }
        for m in 0..8 {
            panel.push(rows_in_lanes(|r| {
                let lo = i16::from(scale(r, 2 * m)) as u16;
                let hi = i16::from(scale(r, 2 * m + 1)) as u16;
                u32::from(lo) | u32::from(hi) << 16
            }));
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
    y: &mut [[f32; T]; LANES],
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
        store_column(*acc, j, y);
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
    drive_packed::<KR, T, __m512i>(
        w,
        first,
        acts,
        n,
        out,
        |w, panel| kx_pack::<Q5>(w, panel),
        |a, side| kx_prep::<true>(a, side),
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
        |a, side| kx_prep::<false>(a, side),
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
    y: &mut [[f32; FT]; FR],
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
    for (i, (acc, yi)) in acc.iter().zip(y.iter_mut()).enumerate() {
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
                yi[j] = super::avx2::hsum(sum) + kind.tail(w_tail, &x[done..]);
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
    y: &mut [[f32; T]; LR],
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
    for (i, (acc, yi)) in acc.iter().zip(y.iter_mut()).enumerate() {
        for (j, acc) in acc.iter().enumerate() {
            let rest = tail(&w[i][2 * pairs * size..], &a[j][2 * pairs * ASIZE..]);
            yi[j] = _mm512_reduce_add_ps(*acc) + rest;
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
    y: &mut [[f32; T]; LR],
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
            y[i][j] = dot + (mins[4 * j + 1] + mins[4 * j + 3]);
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
