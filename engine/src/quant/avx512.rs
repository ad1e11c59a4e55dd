//! AVX-512 (F, BW, VL, VNNI) row dots for the integer formats. `vpdpbusd` multiplies unsigned
//! weight bytes by signed activation bytes and sums each four into an i32 lane without saturation;
//! a 512-bit register holds two 32-element blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) or one pair of
//! K-quant sub-blocks. K-quant levels are extracted by the AVX2 helpers in `avx2.rs`, so both
//! paths decode those blocks one way; a row with an odd number of 32-element blocks ends on the
//! AVX2 row for its last block.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::avx2::{
    f16_at, f16_table, kx_min_pairs, q5_k_levels, q6_k_levels, q8_k_scale, scales_mins_k4,
};
use super::layout;

/// Two 256-bit halves as one 512-bit register (`lo` in lanes 0..8 of i32).
#[inline(always)]
pub(super) unsafe fn join(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1)
}

#[inline(always)]
pub(super) unsafe fn load256(p: *const u8) -> __m256i {
    _mm256_loadu_si256(p as *const __m256i)
}

/// sum(w * a) in groups of four for signed `w`: |w| is unsigned, its sign moves onto `a`.
#[inline(always)]
unsafe fn dot_signed(w: __m512i, a: __m512i) -> __m512i {
    let negative = _mm512_movepi8_mask(w);
    let a_signed = _mm512_mask_sub_epi8(a, negative, _mm512_setzero_si512(), a);
    _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), a_signed)
}

/// Lanes 0..8 scaled by `d0`, lanes 8..16 by `d1`.
#[inline(always)]
pub(super) unsafe fn two_scales(d0: f32, d1: f32) -> __m512 {
    _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(d0), _mm512_set1_ps(d1))
}

/// Asks for the `size` bytes `PREFETCH_BYTES` past `block` (64 Q4_K blocks, 9 KiB): with the
/// weights streaming from DRAM, the hardware prefetcher alone left these kernels at about 0.55
/// of read bandwidth. Measured on TinyLlama-shaped decode at one thread (tokens/s, Q4_K_M and
/// Q8_0): 8 blocks 34.5 and -, 16: 37.5 and 27, 32: 40 and 28, 64: 41.5 and 30.5, 128: 41.5
/// and 31.
#[inline(always)]
unsafe fn prefetch_ahead(block: &[u8], size: usize) {
    const PREFETCH_BYTES: usize = 64 * layout::q4_k::SIZE;
    let ahead = block.as_ptr().wrapping_add(PREFETCH_BYTES);
    for line in (0..size).step_by(64) {
        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line) as *const i8);
    }
}

/// Rows with an odd number of blocks finish their last block on the AVX2 path.
macro_rules! pairs_then_tail {
    ($w:ident, $a:ident, $wsize:expr, $asize:expr, $tail:path, |$w2:ident, $a2:ident| $body:expr) => {{
        let pairs = $w.len() / (2 * $wsize);
        let mut acc = _mm512_setzero_ps();
        for ($w2, $a2) in $w.chunks_exact(2 * $wsize).zip($a.chunks_exact(2 * $asize)) {
            prefetch_ahead($w2, 2 * $wsize);
            acc = $body(acc);
        }
        let tail = $tail(&$w[2 * pairs * $wsize..], &$a[2 * pairs * $asize..]);
        _mm512_reduce_add_ps(acc) + tail
    }};
}

/// Q8_0: each block's exact integer dot, then `(d_w * d_a) * dot` added into one of four f32
/// sums, block b into sum b % 4, the four added as (0 + 1) + (2 + 3) at the end. Four blocks'
/// dots are reduced together and their four multiply-adds are one, lane k the sum k. The
/// prefill tile (`avx512_tiles::q8_0_tile`) makes the same multiply-adds in sixteen rows' lanes,
/// so both give the same bits.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q8_0_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q8_0::*;
    let t = f16_table();
    let quads = w.len() / (4 * SIZE);
    let mut acc = _mm_setzero_ps();
    for (w4, a4) in w.chunks_exact(4 * SIZE).zip(a.chunks_exact(4 * SIZE)) {
        prefetch_ahead(w4, 4 * SIZE);
        let (w2, a2) = (&w4[2 * SIZE..], &a4[2 * SIZE..]);
        let dots = block_sums4(
            dot_signed(
                bytes_pair(w4, QS.start, SIZE),
                bytes_pair(a4, QS.start, SIZE),
            ),
            dot_signed(
                bytes_pair(w2, QS.start, SIZE),
                bytes_pair(a2, QS.start, SIZE),
            ),
        );
        // The four products d_w * d_a, from F16C (exact, as the table) four at a time.
        let f16s = |b: &[u8]| -> [i16; 4] {
            std::array::from_fn(|k| i16::from_le_bytes([b[k * SIZE], b[k * SIZE + 1]]))
        };
        let (wd, ad) = (f16s(w4), f16s(a4));
        let scales = _mm_mul_ps(
            _mm_cvtph_ps(_mm_loadl_epi64(wd.as_ptr() as *const __m128i)),
            _mm_cvtph_ps(_mm_loadl_epi64(ad.as_ptr() as *const __m128i)),
        );
        acc = _mm_fmadd_ps(scales, _mm_cvtepi32_ps(dots), acc);
    }
    let mut sums = [0.0f32; 4];
    _mm_storeu_ps(sums.as_mut_ptr(), acc);
    let done = 4 * quads;
    for (k, (wb, ab)) in w[done * SIZE..]
        .chunks_exact(SIZE)
        .zip(a[done * SIZE..].chunks_exact(SIZE))
        .enumerate()
    {
        let dot: i32 = wb[QS]
            .iter()
            .zip(&ab[QS])
            .map(|(&x, &y)| i32::from(x as i8) * i32::from(y as i8))
            .sum();
        let scale = f16_at(t, wb, D) * f16_at(t, ab, D);
        sums[k] = scale.mul_add(dot as f32, sums[k]);
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3])
}

/// The four block sums of two registers of two 32-element blocks' `vpdpbusd` lanes (eight
/// lanes a block): [a's lanes 0..8, a's 8..16, b's 0..8, b's 8..16].
#[inline(always)]
unsafe fn block_sums4(a: __m512i, b: __m512i) -> __m128i {
    // Sums of each 128-bit lane, in its lane 0.
    let quarter = |v: __m512i| {
        let v = _mm512_add_epi32(v, _mm512_shuffle_epi32::<0b01_00_11_10>(v));
        _mm512_add_epi32(v, _mm512_shuffle_epi32::<0b10_11_00_01>(v))
    };
    let idx = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 28, 24, 20, 16, 12, 8, 4, 0);
    let eight = _mm512_castsi512_si256(_mm512_permutex2var_epi32(quarter(a), idx, quarter(b)));
    let pairs = _mm256_hadd_epi32(eight, eight);
    _mm_unpacklo_epi64(
        _mm256_castsi256_si128(pairs),
        _mm256_extracti128_si256::<1>(pairs),
    )
}

/// The levels of two consecutive 32-element blocks (`size` bytes each, 16 quant bytes at `qs`),
/// one per byte in element order: block 0's in lanes 0..32, block 1's in lanes 32..64.
#[inline(always)]
pub(super) unsafe fn nibbles_pair(w2: &[u8], qs: usize, size: usize) -> __m512i {
    let mask = _mm256_set1_epi8(0xF);
    // [b0 low, b1 low | b0 high, b1 high] -> [b0 low, b0 high, b1 low, b1 high].
    let bytes = _mm256_set_m128i(
        _mm_loadu_si128(w2.as_ptr().add(size + qs) as *const __m128i),
        _mm_loadu_si128(w2.as_ptr().add(qs) as *const __m128i),
    );
    let lo = _mm256_and_si256(bytes, mask);
    let hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask);
    join(
        _mm256_permute2x128_si256(lo, hi, 0x20),
        _mm256_permute2x128_si256(lo, hi, 0x31),
    )
}

/// Q5_0/Q5_1 levels of two consecutive blocks: `nibbles_pair` with 16 added where the qh words
/// (at `qh` in each block) have bit j set; the two words side by side are a 64-lane byte mask.
#[inline(always)]
pub(super) unsafe fn five_bit_pair(w2: &[u8], qh: usize, qs: usize, size: usize) -> __m512i {
    let bits = u64::from(layout::u32_at(w2, qh..qh + 4))
        | (u64::from(layout::u32_at(w2, size + qh..size + qh + 4)) << 32);
    let nibbles = nibbles_pair(w2, qs, size);
    _mm512_or_si512(nibbles, _mm512_maskz_mov_epi8(bits, _mm512_set1_epi8(16)))
}

/// The 32 bytes at `qs` of each of two consecutive `size`-byte blocks, side by side.
#[inline(always)]
pub(super) unsafe fn bytes_pair(b2: &[u8], qs: usize, size: usize) -> __m512i {
    join(
        load256(b2.as_ptr().add(qs)),
        load256(b2.as_ptr().add(size + qs)),
    )
}

/// sum(q * a) - sum(offset * a) in groups of four, for unsigned levels `q` stored + `offset`.
#[inline(always)]
unsafe fn dot_offset(q: __m512i, a: __m512i, offset: i8) -> __m512i {
    let zero = _mm512_setzero_si512();
    _mm512_sub_epi32(
        _mm512_dpbusd_epi32(zero, q, a),
        _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(offset), a),
    )
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q4_0_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q4_0::*;
    use layout::q8_0::{D as AD, QS as AQS, SIZE as ASIZE};
    let t = f16_table();
    pairs_then_tail!(w, a, SIZE, ASIZE, super::avx2::q4_0_row, |w2, a2| {
        |acc| {
            let q = nibbles_pair(w2, QS.start, SIZE);
            let aq = bytes_pair(a2, AQS.start, ASIZE);
            // Levels are stored +8: sum(q * a) - sum(8 * a).
            let dot = dot_offset(q, aq, 8);
            let d0 = f16_at(t, w2, D) * f16_at(t, a2, AD);
            let d1 = f16_at(t, &w2[SIZE..], D) * f16_at(t, &a2[ASIZE..], AD);
            _mm512_fmadd_ps(two_scales(d0, d1), _mm512_cvtepi32_ps(dot), acc)
        }
    })
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q5_0_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q5_0::*;
    use layout::q8_0::{D as AD, QS as AQS, SIZE as ASIZE};
    let t = f16_table();
    pairs_then_tail!(w, a, SIZE, ASIZE, super::avx2::q5_0_row, |w2, a2| {
        |acc| {
            let q = five_bit_pair(w2, QH.start, QS.start, SIZE);
            let aq = bytes_pair(a2, AQS.start, ASIZE);
            // Levels are stored +16.
            let dot = dot_offset(q, aq, 16);
            let d0 = f16_at(t, w2, D) * f16_at(t, a2, AD);
            let d1 = f16_at(t, &w2[SIZE..], D) * f16_at(t, &a2[ASIZE..], AD);
            _mm512_fmadd_ps(two_scales(d0, d1), _mm512_cvtepi32_ps(dot), acc)
        }
    })
}

/// Q4_1 (`Q5 = false`) and Q5_1 (`Q5 = true`) against Q8_1: unsigned levels, plus each block's
/// min times its activation block's stored sum. A weight block's d and m and an activation
/// block's d and s are adjacent f16 pairs, so one product of two widened vectors gives both
/// blocks' scales and min terms: [d_w0 d_a0, m_0 s_0, d_w1 d_a1, m_1 s_1]. With F16C this
/// measured faster than eight `f16_table` loads per pair.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn legacy_min_row<const Q5: bool>(w: &[u8], a: &[u8]) -> f32 {
    use layout::q8_1::{QS as AQS, SIZE as ASIZE};
    let (size, qs) = super::avx2::legacy_min_geometry::<Q5>();
    let tail = if Q5 {
        super::avx2::q5_1_row
    } else {
        super::avx2::q4_1_row
    };
    let word = |b: &[u8]| i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    // Lanes 0..8 take product 0 (block 0's scale), lanes 8..16 product 2 (block 1's).
    let pick = _mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0);
    let mut acc_min = _mm_setzero_ps();
    let dot = pairs_then_tail!(w, a, size, ASIZE, tail, |w2, a2| {
        |acc| {
            let q = if Q5 {
                five_bit_pair(w2, layout::q5_1::QH.start, qs, size)
            } else {
                nibbles_pair(w2, qs, size)
            };
            let aq = bytes_pair(a2, AQS.start, ASIZE);
            let dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, aq);
            let wdm = _mm_cvtph_ps(_mm_set_epi32(0, 0, word(&w2[size..]), word(w2)));
            let ads = _mm_cvtph_ps(_mm_set_epi32(0, 0, word(&a2[ASIZE..]), word(a2)));
            let products = _mm_mul_ps(wdm, ads);
            acc_min = _mm_add_ps(acc_min, products);
            let scales = _mm512_permutexvar_ps(pick, _mm512_castps128_ps512(products));
            _mm512_fmadd_ps(scales, _mm512_cvtepi32_ps(dot), acc)
        }
    });
    // The min terms are the odd lanes.
    let mins = _mm_shuffle_ps::<0b11_01_11_01>(acc_min, acc_min);
    dot + _mm_cvtss_f32(_mm_add_ss(mins, _mm_movehdup_ps(mins)))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q4_1_row(w: &[u8], a: &[u8]) -> f32 {
    legacy_min_row::<false>(w, a)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q5_1_row(w: &[u8], a: &[u8]) -> f32 {
    legacy_min_row::<true>(w, a)
}

/// `acc + madd(a, b)` as one `vpdpwssd`. LLVM's generic x86-64 tuning splits the intrinsic into
/// `vpmaddwd` and `vpaddd` where it sees fit: one more instruction in the K-quant inner loops.
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
pub(super) unsafe fn dpwssd(mut acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    std::arch::asm!(
        "vpdpwssd {acc}, {a}, {b}",
        acc = inout(zmm_reg) acc,
        a = in(zmm_reg) a,
        b = in(zmm_reg) b,
        options(pure, nomem, nostack, preserves_flags),
    );
    acc
}

/// Which 16-bit scale each half of a 32-bit lane takes, for Q4_K/Q5_K chunk pairs (0, 1) and
/// (2, 3): lane l of chunk c takes sub-block 2c + (l >= 8)'s scale, chunk 2p's in the low half
/// and chunk 2p + 1's in the high half.
const KX_PAIR_PICK: [[i16; 32]; 2] = {
    let mut pick = [[0i16; 32]; 2];
    let mut p = 0;
    while p < 2 {
        let mut h = 0;
        while h < 32 {
            let (l, c) = (h / 2, 2 * p + h % 2);
            pick[p][h] = (2 * c + if l >= 8 { 1 } else { 0 }) as i16;
            h += 1;
        }
        p += 1;
    }
    pick
};

/// A Q4_K/Q5_K block's eight 6-bit scales (one byte each) as the 16-bit pairs `pack_pair`'s
/// lanes are multiplied by: chunk pairs (0, 1) and (2, 3).
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn kx_scale_pairs(scales: u64) -> [__m512i; 2] {
    let sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales as i64)));
    KX_PAIR_PICK.map(|p| _mm512_permutexvar_epi16(_mm512_loadu_si512(p.as_ptr() as *const _), sc16))
}

/// Q4_K chunk `c`'s 64 levels in order: its 32 bytes' low nibbles (sub-block 2c), then their
/// high nibbles (2c + 1). The bytes are broadcast to both halves from memory and the upper half
/// shifted by 4 in the same instruction as the lower by 0: two operations for 64 levels.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn q4_k_levels64(wb: &[u8], c: usize) -> __m512i {
    let q = load256(wb.as_ptr().add(layout::q4_k::QS.start + 32 * c));
    let shifted = _mm512_srlv_epi64(
        _mm512_broadcast_i64x4(q),
        _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0),
    );
    _mm512_and_si512(shifted, _mm512_set1_epi8(0xF))
}

/// Two chunks' `vpdpbusd` lanes (each at most 4 * 31 * 128: 16 bits) side by side in each 32-bit
/// lane, the first low, so that one `vpdpwssd` by a pair of scales adds both scaled. (Adding the
/// first onto the second shifted up would save the blend, but a negative first borrows from the
/// second's half.)
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn pack_pair(first: __m512i, second: __m512i) -> __m512i {
    _mm512_mask_blend_epi16(0xAAAA_AAAA, first, _mm512_slli_epi32::<16>(second))
}

/// Q4_K and Q5_K: per chunk of 64 levels (a sub-block pair), one `vpdpbusd`; each i32 lane l
/// sums over the four chunks the chunk's sub-block scale (2c + (l >= 8)) times its dot, two
/// chunks at a time through one `vpdpwssd` of their packed sums by a pair of scales. The lanes
/// then add up to the block's exact integer sum, and the float operations on it and on the min
/// term's are the scalar row dot's, in its order: the result is the scalar kernel's bit for bit
/// (and the prefill tile's, which sums a block the same way with one row per lane).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn kx_row<const Q5: bool>(w: &[u8], a: &[u8], size: usize) -> f32 {
    use layout::q4_k::{D, DMIN, SCALES};
    use layout::q8_k::{QS as AQS, SIZE as ASIZE};
    let t = f16_table();
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(size).zip(a.chunks_exact(ASIZE)) {
        prefetch_ahead(wb, size);
        let da = q8_k_scale(ab);
        let (scales, mins) = scales_mins_k4(&wb[SCALES]);
        let pairs = kx_scale_pairs(scales);
        let aq = ab.as_ptr().add(AQS.start);
        let mut isum = _mm512_setzero_si512();
        for (p, pair) in pairs.into_iter().enumerate() {
            // A direct call inlines; a function pointer cost an indirect call per sub-block pair.
            let levels = |c: usize| {
                if Q5 {
                    let (lo, hi) = q5_k_levels(wb, c);
                    join(lo, hi)
                } else {
                    q4_k_levels64(wb, c)
                }
            };
            let sum = |c: usize| {
                let av = _mm512_loadu_si512(aq.add(64 * c) as *const _);
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), levels(c), av)
            };
            isum = dpwssd(isum, pack_pair(sum(2 * p), sum(2 * p + 1)), pair);
        }
        // The block's sum folded to four lanes beside the min term's four, then both summed at
        // once: [isum, msum] as the scalar row dot forms them, and its float operations on them.
        let half = _mm256_add_epi32(
            _mm512_castsi512_si256(isum),
            _mm512_extracti64x4_epi64::<1>(isum),
        );
        let four = _mm_add_epi32(
            _mm256_castsi256_si128(half),
            _mm256_extracti128_si256::<1>(half),
        );
        let sums = _mm_hadd_epi32(four, kx_min_pairs(ab, mins));
        let sums = _mm_cvtepi32_ps(_mm_hadd_epi32(sums, sums));
        let (d, dmin) = (f16_at(t, wb, D), f16_at(t, wb, DMIN));
        let scales = _mm_mul_ps(_mm_set_ps(0.0, 0.0, dmin, d), _mm_set1_ps(da));
        let terms = _mm_mul_ps(scales, sums);
        acc += _mm_cvtss_f32(_mm_sub_ss(terms, _mm_movehdup_ps(terms)));
    }
    acc
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q4_k_row(w: &[u8], a: &[u8]) -> f32 {
    kx_row::<false>(w, a, layout::q4_k::SIZE)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q5_k_row(w: &[u8], a: &[u8]) -> f32 {
    kx_row::<true>(w, a, layout::q5_k::SIZE)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q6_k_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q6_k::*;
    use layout::q8_k::{BSUMS, QS as AQS, SIZE as ASIZE};
    let t = f16_table();
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(ASIZE)) {
        prefetch_ahead(wb, SIZE);
        let da = q8_k_scale(ab);
        let sc32 = _mm512_cvtepi8_epi32(_mm_loadu_si128(
            wb.as_ptr().add(SCALES.start) as *const __m128i
        ));
        let aq = ab.as_ptr().add(AQS.start);
        let mut isum = _mm512_setzero_si512();
        for h in 0..2 {
            let [q0, q1, q2, q3] = q6_k_levels(wb, h);
            for (pair, (x, y)) in [(q0, q1), (q2, q3)].into_iter().enumerate() {
                // 64 levels: sub-blocks 8h + 4 pair .. + 4, each 16 levels = 4 i32 lanes.
                let a64 = _mm512_loadu_si512(aq.add(128 * h + 64 * pair) as *const _);
                let dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), join(x, y), a64);
                let s = (8 * h + 4 * pair) as i32;
                let pick = _mm512_set_epi32(
                    s + 3,
                    s + 3,
                    s + 3,
                    s + 3,
                    s + 2,
                    s + 2,
                    s + 2,
                    s + 2,
                    s + 1,
                    s + 1,
                    s + 1,
                    s + 1,
                    s,
                    s,
                    s,
                    s,
                );
                isum = _mm512_add_epi32(
                    isum,
                    _mm512_mullo_epi32(dot, _mm512_permutexvar_epi32(pick, sc32)),
                );
            }
        }
        // Levels are stored +32: subtract 32 * scale * (sum of each sub-block's activations).
        let bsums = _mm512_cvtepi16_epi32(_mm256_loadu_si256(
            ab.as_ptr().add(BSUMS.start) as *const __m256i
        ));
        let bias = _mm512_mullo_epi32(_mm512_mullo_epi32(sc32, bsums), _mm512_set1_epi32(32));
        isum = _mm512_sub_epi32(isum, bias);
        acc = (f16_at(t, wb, D) * da).mul_add(_mm512_reduce_add_epi32(isum) as f32, acc);
    }
    acc
}
