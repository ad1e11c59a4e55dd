//! AVX2 + FMA + F16C row dots for every type with a direct kernel, chosen at run time through the
//! table in `types/`. Each equals its type's scalar reference (`types/<type>.rs`) up to float
//! summation order; `tests/quant_kernels.rs` holds them to 1e-5.
//!
//! The integer kernels use ggml's idiom: `maddubs` multiplies unsigned weight bytes by signed
//! activation bytes into i16 pairs. The bounds that keep it from saturating: Q8_0 |w| <= 128 with
//! activations in [-127, 127] (2 * 128 * 127 = 32512), Q5_0 |w| <= 16, Q4_1/Q5_1 levels <= 31
//! against any activation byte (2 * 31 * 128), K-quant levels <= 63 (2 * 63 * 127).

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::layout;
use super::types::{float, q8_k::q8_k_parts};

/// Every f16 bit pattern widened to f32, as ggml's `ggml_table_f32_f16` (256 KiB, built once).
/// A table load has no register dependencies; widening with F16C inside these loops made LLVM
/// insert into the accumulator's register, chaining every block to the previous one.
///
/// A fixed-size table: any u16 indexes it, so a lookup needs no bounds check.
pub(crate) fn f16_table() -> &'static [f32; 1 << 16] {
    static TABLE: std::sync::OnceLock<Box<[f32; 1 << 16]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Box::new([0.0f32; 1 << 16]);
        for (bits, v) in table.iter_mut().enumerate() {
            *v = half::f16::from_bits(bits as u16).to_f32();
        }
        table
    })
}

#[inline(always)]
pub(crate) fn f16_at(table: &[f32; 1 << 16], block: &[u8], range: std::ops::Range<usize>) -> f32 {
    // The two bytes as one array: one 16-bit load, where two byte loads were shifted together.
    let bytes: [u8; 2] = block[range.start..range.start + 2]
        .try_into()
        .expect("two bytes");
    table[usize::from(u16::from_le_bytes(bytes))]
}

#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Signed i8 x i8 products summed in pairs then quads: 8 i32 lanes as f32. `maddubs` takes
/// unsigned bytes on one side: the weights' magnitudes, and the activations with the weights'
/// signs.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_i8(w: __m256i, a: __m256i) -> __m256 {
    dot_i8_magnitudes(w, _mm256_sign_epi8(w, w), a)
}

/// `dot_i8` with the weights' magnitudes (`sign(w, w)`) already formed: what a tile decodes once
/// per row for all its tokens.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn dot_i8_magnitudes(w: __m256i, magnitudes: __m256i, a: __m256i) -> __m256 {
    dot_u8(magnitudes, _mm256_sign_epi8(a, w))
}

/// Unsigned u8 x signed i8 products summed in pairs then quads: 8 i32 lanes as f32. The weight
/// levels must be small enough that no pair saturates i16.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn dot_u8(w: __m256i, a: __m256i) -> __m256 {
    let p16 = _mm256_maddubs_epi16(w, a);
    _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)))
}

/// The 32 levels of a Q4_0/Q4_1/Q5_0/Q5_1 block's 16 quant bytes at `qs`, one per byte in
/// element order: elements 0..16 are the low nibbles, 16..32 the high ones.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn legacy_nibbles(qs: *const u8) -> __m256i {
    let bytes = _mm_loadu_si128(qs as *const __m128i);
    let both = _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes);
    _mm256_and_si256(both, _mm256_set1_epi8(0xF))
}

/// Q5_0/Q5_1's fifth bits: byte j is 0xFF where bit j of the little-endian u32 at `qh` is set, 0
/// where it is clear (ggml's bytes_from_bits_32: byte j takes byte j / 8 of the word, and all its
/// other bits are set so that it is 0xFF exactly when bit j % 8 is).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn fifth_bits(qh: *const u8) -> __m256i {
    let word = _mm256_set1_epi32(std::ptr::read_unaligned(qh as *const i32));
    let spread = _mm256_shuffle_epi8(
        word,
        _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0,
        ),
    );
    let others = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe);
    _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi8(-1))
}

/// The float weight formats the float row dots and tiles read, each widened to f32 eight at a
/// time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatKind {
    F32,
    F16,
    Bf16,
}

impl FloatKind {
    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        match self {
            FloatKind::F32 => 4,
            FloatKind::F16 | FloatKind::Bf16 => 2,
        }
    }

    /// Elements 8c..8c + 8 of a row, widened to f32.
    #[inline(always)]
    pub(crate) unsafe fn eight(self, row: &[u8], c: usize) -> __m256 {
        let p = row.as_ptr().add(8 * c * self.size());
        match self {
            FloatKind::F32 => _mm256_loadu_ps(p as *const f32),
            FloatKind::F16 => _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)),
            FloatKind::Bf16 => {
                let h = _mm_loadu_si128(p as *const __m128i);
                _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
            }
        }
    }

    /// The AVX2 row dot of this format.
    pub(crate) unsafe fn row(self, w: &[u8], x: &[f32]) -> f32 {
        match self {
            FloatKind::F32 => f32_row(w, x),
            FloatKind::F16 => f16_row(w, x),
            FloatKind::Bf16 => bf16_row(w, x),
        }
    }

    /// The scalar tail the row dot adds past its last whole eight.
    pub(crate) fn tail(self, w: &[u8], x: &[f32]) -> f32 {
        match self {
            FloatKind::F32 => float::f32_row(w, x),
            FloatKind::F16 => float::f16_row(w, x),
            FloatKind::Bf16 => float::bf16_row(w, x),
        }
    }
}

/// A float row: one multiply-add per eight elements into eight running sums, their horizontal
/// sum, then the scalar tail past the last whole eight.
#[inline(always)]
unsafe fn float_row(kind: FloatKind, w: &[u8], x: &[f32]) -> f32 {
    let n = x.len() / 8;
    let mut acc = _mm256_setzero_ps();
    for c in 0..n {
        acc = _mm256_fmadd_ps(
            kind.eight(w, c),
            _mm256_loadu_ps(x.as_ptr().add(8 * c)),
            acc,
        );
    }
    hsum(acc) + kind.tail(&w[8 * n * kind.size()..], &x[8 * n..])
}

#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn f32_row(w: &[u8], x: &[f32]) -> f32 {
    float_row(FloatKind::F32, w, x)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn f16_row(w: &[u8], x: &[f32]) -> f32 {
    float_row(FloatKind::F16, w, x)
}

#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn bf16_row(w: &[u8], x: &[f32]) -> f32 {
    float_row(FloatKind::Bf16, w, x)
}

/// A Q4_0 block's 32 levels as signed bytes: the nibbles minus 8.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn q4_0_levels(wb: &[u8]) -> __m256i {
    let nibbles = legacy_nibbles(wb.as_ptr().add(layout::q4_0::QS.start));
    _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8))
}

/// A Q5_0 block's 32 levels as signed bytes. They are stored +16: a clear fifth bit makes the
/// nibble n the i8 0xF0 | n = n - 16.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn q5_0_levels(wb: &[u8]) -> __m256i {
    use layout::q5_0::{QH, QS};
    let high = _mm256_set1_epi8(0xF0u8 as i8);
    let clear = _mm256_andnot_si256(fifth_bits(wb.as_ptr().add(QH.start)), high);
    _mm256_or_si256(legacy_nibbles(wb.as_ptr().add(QS.start)), clear)
}

/// A Q4_1 (`Q5 = false`) or Q5_1 block's 32 levels as unsigned bytes.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn legacy_min_levels<const Q5: bool>(wb: &[u8]) -> __m256i {
    let (_, qs) = legacy_min_geometry::<Q5>();
    let wq = legacy_nibbles(wb.as_ptr().add(qs));
    if Q5 {
        let bits = fifth_bits(wb.as_ptr().add(layout::q5_1::QH.start));
        _mm256_or_si256(wq, _mm256_and_si256(bits, _mm256_set1_epi8(0x10)))
    } else {
        wq
    }
}

/// The 32-element block types with signed levels, each against Q8_0 activations.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signed {
    Q8_0,
    Q4_0,
    Q5_0,
}

// Each block starts with its f16 scale d, as a Q8_0 activation block does.
const _: () = assert!(layout::q8_0::D.start == 0 && layout::q4_0::D.start == 0);
const _: () = assert!(layout::q5_0::D.start == 0);

impl Signed {
    pub(crate) fn size(self) -> usize {
        match self {
            Signed::Q8_0 => layout::q8_0::SIZE,
            Signed::Q4_0 => layout::q4_0::SIZE,
            Signed::Q5_0 => layout::q5_0::SIZE,
        }
    }

    /// A block's 32 levels as signed bytes.
    #[inline(always)]
    pub(crate) unsafe fn levels(self, wb: &[u8]) -> __m256i {
        match self {
            Signed::Q8_0 => {
                _mm256_loadu_si256(wb.as_ptr().add(layout::q8_0::QS.start) as *const __m256i)
            }
            Signed::Q4_0 => q4_0_levels(wb),
            Signed::Q5_0 => q5_0_levels(wb),
        }
    }

    /// How many of a row's `blocks` the row dot reads: all of them (the avx2-skips-odd-block
    /// fault drops Q8_0's last from an odd count).
    pub(crate) fn blocks(self, blocks: usize) -> usize {
        match self {
            Signed::Q8_0 => crate::faults::avx2_blocks(blocks),
            Signed::Q4_0 | Signed::Q5_0 => blocks,
        }
    }
}

/// Q8_0, Q4_0 and Q5_0 against Q8_0: per block, the signed dot (`dot_i8`) multiplied by
/// d_w * d_a into eight running sums.
#[inline(always)]
unsafe fn signed_row(kind: Signed, w: &[u8], a: &[u8]) -> f32 {
    use layout::q8_0::{D as AD, QS as AQS, SIZE as ASIZE};
    let t = f16_table();
    let mut acc = _mm256_setzero_ps();
    let blocks = kind.blocks(w.len() / kind.size());
    let pairs = w.chunks_exact(kind.size()).zip(a.chunks_exact(ASIZE));
    for (wb, ab) in pairs.take(blocks) {
        let aq = _mm256_loadu_si256(ab.as_ptr().add(AQS.start) as *const __m256i);
        let d = _mm256_set1_ps(f16_at(t, wb, AD) * f16_at(t, ab, AD));
        acc = _mm256_fmadd_ps(d, dot_i8(kind.levels(wb), aq), acc);
    }
    hsum(acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q8_0_row(w: &[u8], a: &[u8]) -> f32 {
    signed_row(Signed::Q8_0, w, a)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q4_0_row(w: &[u8], a: &[u8]) -> f32 {
    signed_row(Signed::Q4_0, w, a)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q5_0_row(w: &[u8], a: &[u8]) -> f32 {
    signed_row(Signed::Q5_0, w, a)
}

/// The two f16 at bytes 0..4 of `block` (d and m of Q4_1/Q5_1, d and s of Q8_1) in lanes 0, 1.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn f16_pair(block: &[u8]) -> __m128 {
    let word = i32::from_le_bytes([block[0], block[1], block[2], block[3]]);
    _mm_cvtph_ps(_mm_cvtsi32_si128(word))
}

/// Q4_1's (`Q5 = false`) or Q5_1's block size and where its quants start, for the `legacy_min_row`
/// of both instruction sets, which read d and m as one f16 pair at the block's start, as they
/// read a Q8_1 block's d and s.
pub(super) const fn legacy_min_geometry<const Q5: bool>() -> (usize, usize) {
    const _: () = assert!(
        layout::q4_1::D.start == 0 && layout::q4_1::M.start == 2 && layout::q5_1::M.start == 2,
    );
    const _: () = assert!(layout::q8_1::D.start == 0 && layout::q8_1::S.start == 2);
    if Q5 {
        (layout::q5_1::SIZE, layout::q5_1::QS.start)
    } else {
        (layout::q4_1::SIZE, layout::q4_1::QS.start)
    }
}

/// Q4_1 (`Q5 = false`) and Q5_1 (`Q5 = true`) against Q8_1: unsigned levels, plus the min's
/// term from each activation block's stored sum. A weight block's d and m and an activation
/// block's d and s are adjacent f16 pairs, so one product of two widened pairs gives the block's
/// scale and min term: [d_w d_a, m s]. Widening the pairs with F16C (no scalar insert into a
/// live register) measured faster here than four `f16_table` loads.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn legacy_min_row<const Q5: bool>(w: &[u8], a: &[u8]) -> f32 {
    use layout::q8_1::{QS as AQS, SIZE as ASIZE};
    let (size, _) = legacy_min_geometry::<Q5>();
    let mut acc = _mm256_setzero_ps();
    let mut acc_min = _mm_setzero_ps();
    for (wb, ab) in w.chunks_exact(size).zip(a.chunks_exact(ASIZE)) {
        let wq = legacy_min_levels::<Q5>(wb);
        let aq = _mm256_loadu_si256(ab.as_ptr().add(AQS.start) as *const __m256i);
        let products = _mm_mul_ps(f16_pair(wb), f16_pair(ab));
        acc_min = _mm_add_ps(acc_min, products);
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(products), dot_u8(wq, aq), acc);
    }
    // Lane 1 holds the min terms.
    hsum(acc) + _mm_cvtss_f32(_mm_movehdup_ps(acc_min))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q4_1_row(w: &[u8], a: &[u8]) -> f32 {
    legacy_min_row::<false>(w, a)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q5_1_row(w: &[u8], a: &[u8]) -> f32 {
    legacy_min_row::<true>(w, a)
}

/// The eight 6-bit scales and eight 6-bit mins of a Q4_K/Q5_K block, as (scales, mins) with one
/// byte each, decoded four at a time from the 12 packed bytes (see `layout::scale_min_k4`).
#[inline(always)]
pub(crate) fn scales_mins_k4(packed: &[u8]) -> (u64, u64) {
    // One length check for the twelve bytes; each word is then one load.
    let packed: &[u8; 12] = packed.try_into().expect("12 packed scale bytes");
    let word =
        |i: usize| u32::from_le_bytes([packed[i], packed[i + 1], packed[i + 2], packed[i + 3]]);
    let (w0, w1, w2) = (word(0), word(4), word(8));
    let sc_lo = w0 & 0x3f3f_3f3f;
    let m_lo = w1 & 0x3f3f_3f3f;
    let sc_hi = (w2 & 0x0f0f_0f0f) | ((w0 >> 2) & 0x3030_3030);
    let m_hi = ((w2 >> 4) & 0x0f0f_0f0f) | ((w1 >> 2) & 0x3030_3030);
    (
        u64::from(sc_lo) | (u64::from(sc_hi) << 32),
        u64::from(m_lo) | (u64::from(m_hi) << 32),
    )
}

/// A Q8_K activation block's f32 scale.
#[inline(always)]
pub(crate) fn q8_k_scale(ab: &[u8]) -> f32 {
    f32::from_le_bytes(ab[layout::q8_k::D].try_into().expect("four bytes"))
}

/// The Q4_K/Q5_K min term's products before scaling: min_g times the sum of sub-block g's 32
/// activations, summed in pairs of sub-blocks into four i32 lanes (each at most
/// 2 * 63 * 32 * 128: no wrap). `mins` holds the eight mins, one byte each.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn kx_min_pairs(ab: &[u8], mins: u64) -> __m128i {
    let bsums = _mm256_loadu_si256(ab.as_ptr().add(layout::q8_k::BSUMS.start) as *const __m256i);
    // Pairs of 16-element sums are the 32-element sub-block sums (at most 2 * 16 * 127: no wrap).
    let pair_sums = _mm_hadd_epi16(
        _mm256_castsi256_si128(bsums),
        _mm256_extracti128_si256(bsums, 1),
    );
    let mins16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(mins as i64));
    _mm_madd_epi16(mins16, pair_sums)
}

/// The min term as four f32 lanes to be summed, as llama.cpp's AVX2 kernel keeps it.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn kx_min_term(ab: &[u8], mins: u64) -> __m128 {
    _mm_cvtepi32_ps(kx_min_pairs(ab, mins))
}

/// The sum of four f32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn hsum128(v: __m128) -> f32 {
    let s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// Q4_K (`Q5 = false`) and Q5_K (`Q5 = true`).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn kx_row<const Q5: bool>(w: &[u8], a: &[u8], size: usize) -> f32 {
    use layout::q4_k::{D, DMIN, SCALES};
    use layout::q8_k::{QS as AQS, SIZE as ASIZE};
    let t = f16_table();
    let mut acc = _mm256_setzero_ps();
    let mut acc_min = _mm_setzero_ps();
    for (wb, ab) in w.chunks_exact(size).zip(a.chunks_exact(ASIZE)) {
        let da = q8_k_scale(ab);
        let (scales, mins) = scales_mins_k4(&wb[SCALES]);
        let dmin = _mm_set1_ps(f16_at(t, wb, DMIN) * da);
        acc_min = _mm_fmadd_ps(dmin, kx_min_term(ab, mins), acc_min);
        // Scales as 16-bit lanes in both halves; a shuffle broadcasts sub-block g's scale.
        let sc16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales as i64));
        let sc = _mm256_set_m128i(sc16, sc16);
        let pick =
            |g: i16| _mm256_shuffle_epi8(sc, _mm256_set1_epi16(((2 * g + 1) << 8) | (2 * g)));
        let aq = ab.as_ptr().add(AQS.start);
        let mut isum = _mm256_setzero_si256();
        for c in 0..4 {
            // Direct calls, so the AVX2 helpers inline (a closure would not carry the features).
            let (lo, hi) = if Q5 {
                q5_k_levels(wb, c)
            } else {
                q4_k_levels(wb, c)
            };
            let a0 = _mm256_loadu_si256(aq.add(64 * c) as *const __m256i);
            let a1 = _mm256_loadu_si256(aq.add(64 * c + 32) as *const __m256i);
            let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, a0), pick(2 * c as i16));
            let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, a1), pick(2 * c as i16 + 1));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(
            _mm256_set1_ps(f16_at(t, wb, D) * da),
            _mm256_cvtepi32_ps(isum),
            acc,
        );
    }
    hsum(acc) - hsum128(acc_min)
}

/// The 32 levels of Q4_K sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn q4_k_levels(wb: &[u8], c: usize) -> (__m256i, __m256i) {
    let mask = _mm256_set1_epi8(0xF);
    let q = _mm256_loadu_si256(wb.as_ptr().add(layout::q4_k::QS.start + 32 * c) as *const __m256i);
    (
        _mm256_and_si256(q, mask),
        _mm256_and_si256(_mm256_srli_epi16(q, 4), mask),
    )
}

/// Q5_K's levels: Q4_K's nibbles plus bit g of qh[l] as the fifth bit of sub-block g. Shifting
/// 16-bit lanes is safe because only bit 0 of each byte survives the mask.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn q5_k_levels(wb: &[u8], c: usize) -> (__m256i, __m256i) {
    use layout::q5_k::{QH, QS};
    let mask = _mm256_set1_epi8(0xF);
    let one = _mm256_set1_epi8(1);
    let q = _mm256_loadu_si256(wb.as_ptr().add(QS.start + 32 * c) as *const __m256i);
    let qh = _mm256_loadu_si256(wb.as_ptr().add(QH.start) as *const __m256i);
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
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q4_k_row(w: &[u8], a: &[u8]) -> f32 {
    kx_row::<false>(w, a, layout::q4_k::SIZE)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q5_k_row(w: &[u8], a: &[u8]) -> f32 {
    kx_row::<true>(w, a, layout::q5_k::SIZE)
}

/// The unsigned (stored +32) levels of Q6_K half h: elements 128h + 32s .. + 32 for s in 0..4.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn q6_k_levels(wb: &[u8], h: usize) -> [__m256i; 4] {
    use layout::q6_k::{QH, QL};
    let mask4 = _mm256_set1_epi8(0xF);
    let mask2 = _mm256_set1_epi8(3);
    let ql0 = _mm256_loadu_si256(wb.as_ptr().add(QL.start + 64 * h) as *const __m256i);
    let ql1 = _mm256_loadu_si256(wb.as_ptr().add(QL.start + 64 * h + 32) as *const __m256i);
    let qh = _mm256_loadu_si256(wb.as_ptr().add(QH.start + 32 * h) as *const __m256i);
    let high = |s: i32| {
        let shifted = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * s));
        _mm256_slli_epi16(_mm256_and_si256(shifted, mask2), 4)
    };
    [
        _mm256_or_si256(_mm256_and_si256(ql0, mask4), high(0)),
        _mm256_or_si256(_mm256_and_si256(ql1, mask4), high(1)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), mask4), high(2)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), mask4), high(3)),
    ]
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn q6_k_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q6_k::*;
    let t = f16_table();
    let mut acc = _mm256_setzero_ps();
    let mut offset = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(layout::q8_k::SIZE)) {
        let (da, aq, bsums) = q8_k_parts(ab);
        let sc = |i: usize| i16::from(wb[SCALES.start + i] as i8);
        let mut isum = _mm256_setzero_si256();
        for h in 0..2 {
            for (s, q) in q6_k_levels(wb, h).into_iter().enumerate() {
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
