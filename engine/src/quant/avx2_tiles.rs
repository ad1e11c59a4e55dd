//! AVX2 (with FMA and F16C) tile kernels for prefill (`gemm.rs`), for every type with an AVX2
//! row dot. The quantized types take `KR` = 2 rows by `T` = 2 tokens, each (row, token) in the
//! AVX2 row dot's own eight lanes. The panel holds each row's levels (a signed type's magnitudes
//! too, and a K-quant's sub-block scales already broadcast for `vpmaddwd`), decoded once per
//! token chunk; the activations are read in place. Only sixteen registers: two by two leaves
//! room for the levels of both rows and the four (row, token) pairs' sums. The float types take
//! `FR` = 3 rows by `FT` = 4 tokens and need no panel: widening is their only decoding.
//!
//! Each (row, token) result equals the AVX2 row dot in `avx2.rs` bit for bit: the same exact
//! integer sums, then its float operations in its order.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::avx2::{
    dot_i8_magnitudes, dot_u8, f16_at, f16_table, hsum, hsum128, legacy_min_geometry,
    legacy_min_levels, q4_k_levels, q5_k_levels, q6_k_levels, q8_k_scale, scales_mins_k4,
    FloatKind, Signed,
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
unsafe fn kx_tile(panel: &[__m256i], side: &[__m256i], a: &[&[u8]; T], y: &mut [[f32; KR]; T]) {
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
            y[j][i] = hsum(acc[i][j]) - hsum128(acc_min[i][j]);
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
unsafe fn q6_k_tile(panel: &[__m256i], side: &[__m256i], a: &[&[u8]; T], y: &mut [[f32; KR]; T]) {
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
            y[j][i] = hsum(acc[i][j]) - offset[i][j];
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

/// The 32-element block types: signed levels against Q8_0 (`avx2::Signed`), or unsigned levels
/// with a min against Q8_1.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Legacy {
    Signed(Signed),
    Q4_1,
    Q5_1,
}

impl Legacy {
    fn size(self) -> usize {
        match self {
            Legacy::Signed(kind) => kind.size(),
            Legacy::Q4_1 => legacy_min_geometry::<false>().0,
            Legacy::Q5_1 => legacy_min_geometry::<true>().0,
        }
    }

    /// The activation block (Q8_0 or Q8_1): its size and where its quants start.
    fn activation(self) -> (usize, usize) {
        match self {
            Legacy::Signed(_) => (layout::q8_0::SIZE, layout::q8_0::QS.start),
            Legacy::Q4_1 | Legacy::Q5_1 => (layout::q8_1::SIZE, layout::q8_1::QS.start),
        }
    }

    /// Unsigned levels with a min term (Q4_1, Q5_1), rather than signed ones.
    fn has_min(self) -> bool {
        matches!(self, Legacy::Q4_1 | Legacy::Q5_1)
    }

    /// Panel registers per row and block: the levels, and a signed type's magnitudes.
    fn registers(self) -> usize {
        if self.has_min() {
            1
        } else {
            2
        }
    }

    #[inline(always)]
    unsafe fn levels(self, wb: &[u8]) -> __m256i {
        match self {
            Legacy::Signed(kind) => kind.levels(wb),
            Legacy::Q4_1 => legacy_min_levels::<false>(wb),
            Legacy::Q5_1 => legacy_min_levels::<true>(wb),
        }
    }

    /// How many of a row's `blocks` the row dot reads (`Signed::blocks`).
    fn blocks(self, blocks: usize) -> usize {
        match self {
            Legacy::Signed(kind) => kind.blocks(blocks),
            Legacy::Q4_1 | Legacy::Q5_1 => blocks,
        }
    }

    unsafe fn row(self, w: &[u8], a: &[u8]) -> f32 {
        match self {
            Legacy::Signed(Signed::Q8_0) => super::avx2::q8_0_row(w, a),
            Legacy::Signed(Signed::Q4_0) => super::avx2::q4_0_row(w, a),
            Legacy::Signed(Signed::Q5_0) => super::avx2::q5_0_row(w, a),
            Legacy::Q4_1 => super::avx2::q4_1_row(w, a),
            Legacy::Q5_1 => super::avx2::q5_1_row(w, a),
        }
    }
}

/// A block's two leading f16 (d, and m or s where the type has them; 0 otherwise) as f32:
/// `(d, m)` of `KR` rows, or `(d, s)` of `T` tokens, in lanes 2k and 2k + 1 of one register.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn scale_pairs(blocks: &[&[u8]], with_second: bool) -> __m256i {
    const {
        assert!(
            2 * KR <= 8 && 2 * T <= 8,
            "a pair per row or token in eight lanes"
        )
    };
    let t16 = f16_table();
    let mut lanes = [0.0f32; 8];
    for (k, block) in blocks.iter().enumerate() {
        lanes[2 * k] = f16_at(t16, block, 0..2);
        if with_second {
            lanes[2 * k + 1] = f16_at(t16, block, 2..4);
        }
    }
    _mm256_castps_si256(_mm256_loadu_ps(lanes.as_ptr()))
}

/// Packs `KR` rows of a 32-element type into a panel: per block, each row's levels (and a signed
/// type's magnitudes), then the rows' scale pairs.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn legacy_pack(kind: Legacy, w: &[&[u8]; KR], panel: &mut Vec<__m256i>) {
    let size = kind.size();
    for b in 0..w[0].len() / size {
        let wb: [&[u8]; KR] = std::array::from_fn(|i| &w[i][b * size..(b + 1) * size]);
        for wb in wb {
            let levels = kind.levels(wb);
            panel.push(levels);
            if !kind.has_min() {
                panel.push(_mm256_sign_epi8(levels, levels));
            }
        }
        panel.push(scale_pairs(&wb, kind.has_min()));
    }
}

/// A token tile's scale pairs per block.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn legacy_prep(kind: Legacy, a: &[&[u8]; T], side: &mut Vec<__m256i>) {
    let (size, _) = kind.activation();
    for b in 0..a[0].len() / size {
        let ab: [&[u8]; T] = std::array::from_fn(|j| &a[j][b * size..(b + 1) * size]);
        side.push(scale_pairs(&ab, kind.has_min()));
    }
}

/// Q8_0, Q4_0, Q5_0, Q4_1 and Q5_1 for `KR` rows and `T` tokens, lane for lane as the AVX2 row
/// dots: per block, the same `maddubs` dot (a signed type's magnitudes and levels from the
/// panel), multiplied by the same scalar d_w * d_a into the (row, token)'s eight running sums; a
/// min type's m_w * s_a summed in one running f32, as the row dot's lane 1.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn legacy_tile(
    kind: Legacy,
    panel: &[__m256i],
    side: &[__m256i],
    a: &[&[u8]; T],
    y: &mut [[f32; KR]; T],
) {
    let (asize, aqs) = kind.activation();
    let per_row = kind.registers();
    let stride = KR * per_row + 1;
    let blocks = side.len();
    assert!(panel.len() == stride * blocks && a.iter().all(|a| a.len() == blocks * asize));
    let mut acc = [[_mm256_setzero_ps(); T]; KR];
    let mut mins = [[0.0f32; T]; KR];
    for b in 0..kind.blocks(blocks) {
        let p = panel.as_ptr().add(stride * b);
        let wd = p.add(KR * per_row) as *const f32;
        let ad = side.as_ptr().add(b) as *const f32;
        for (j, at) in a.iter().enumerate() {
            let aq = _mm256_loadu_si256(at.as_ptr().add(b * asize + aqs) as *const __m256i);
            for i in 0..KR {
                let levels = *p.add(per_row * i);
                let d = _mm256_set1_ps(*wd.add(2 * i) * *ad.add(2 * j));
                if kind.has_min() {
                    acc[i][j] = _mm256_fmadd_ps(d, dot_u8(levels, aq), acc[i][j]);
                    mins[i][j] += *wd.add(2 * i + 1) * *ad.add(2 * j + 1);
                } else {
                    let dot = dot_i8_magnitudes(levels, *p.add(per_row * i + 1), aq);
                    acc[i][j] = _mm256_fmadd_ps(d, dot, acc[i][j]);
                }
            }
        }
    }
    for i in 0..KR {
        for j in 0..T {
            // The signed rows add no min term: adding 0 would turn a -0 sum into +0.
            y[j][i] = if kind.has_min() {
                hsum(acc[i][j]) + mins[i][j]
            } else {
                hsum(acc[i][j])
            };
        }
    }
}

#[inline(always)]
unsafe fn legacy(kind: Legacy, w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    drive_packed::<KR, T, __m256i>(
        w,
        first,
        acts,
        n,
        out,
        |w, panel| legacy_pack(kind, w, panel),
        |a, side| legacy_prep(kind, a, side),
        |panel, side, _, a, y| legacy_tile(kind, panel, side, a, y),
        |w, a| kind.row(w, a),
    )
}

pub(crate) unsafe fn q8_0(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    legacy(Legacy::Signed(Signed::Q8_0), w, first, acts, n, out)
}

pub(crate) unsafe fn q4_0(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    legacy(Legacy::Signed(Signed::Q4_0), w, first, acts, n, out)
}

pub(crate) unsafe fn q5_0(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    legacy(Legacy::Signed(Signed::Q5_0), w, first, acts, n, out)
}

pub(crate) unsafe fn q4_1(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    legacy(Legacy::Q4_1, w, first, acts, n, out)
}

pub(crate) unsafe fn q5_1(w: &QMatrix, first: usize, acts: &[u8], n: usize, out: &mut [f32]) {
    legacy(Legacy::Q5_1, w, first, acts, n, out)
}

/// Float rows and tokens per tile: twelve running sums, a row's eight widened weights each, and
/// the token's eight activations read by the multiply-add from memory.
const FR: usize = 3;
const FT: usize = 4;

/// F32, F16 and BF16 rows against f32 activations for `FR` rows and `FT` tokens, as the AVX2
/// row dot: each (row, token) keeps its eight running sums, one multiply-add per eight elements
/// in order, then the same horizontal sum and scalar tail. Rows and activations are read in
/// place: widening is the only decoding, once per row for the tile's tokens.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn float_tile(kind: FloatKind, w: &[&[u8]; FR], a: &[&[u8]; FT], y: &mut [[f32; FR]; FT]) {
    let x: [&[f32]; FT] = a.map(bytemuck::cast_slice);
    let chunks = x[0].len() / 8;
    assert!(w.iter().all(|w| w.len() >= 8 * chunks * kind.size()));
    let mut acc = [[_mm256_setzero_ps(); FT]; FR];
    for c in 0..chunks {
        let wv: [__m256; FR] = std::array::from_fn(|i| kind.eight(w[i], c));
        for (j, x) in x.iter().enumerate() {
            let xv = _mm256_loadu_ps(x.as_ptr().add(8 * c));
            for (acc, &wv) in acc.iter_mut().zip(&wv) {
                acc[j] = _mm256_fmadd_ps(wv, xv, acc[j]);
            }
        }
    }
    let done = 8 * chunks;
    for (i, acc) in acc.iter().enumerate() {
        let w_tail = &w[i][done * kind.size()..];
        for (j, acc) in acc.iter().enumerate() {
            y[j][i] = hsum(*acc) + kind.tail(w_tail, &x[j][done..]);
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
    drive_packed::<FR, FT, __m256i>(
        w,
        first,
        acts,
        n,
        out,
        |_, _| {},
        |_, _| {},
        |_, _, ws, a, y| float_tile(kind, ws, a, y),
        |w, a| kind.row(w, bytemuck::cast_slice(a)),
    )
}
