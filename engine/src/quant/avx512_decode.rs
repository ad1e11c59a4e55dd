//! AVX-512 (F, BW, VL, VNNI) products of one token (decode) over weights packed at load
//! (`packed.rs`): `LANES` = 16 rows to a group, one per 32-bit lane, as the prefill tiles hold
//! them, so that one `vpdpbusd` of a weight register by four broadcast activations advances
//! sixteen rows and no row needs a horizontal sum. The row dots spend most of their work per
//! block on what a group does once for sixteen rows (unpacking scales, reducing lanes, the
//! float tail): from cache they ran at 13-25 GB/s of weights on one thread, below read
//! bandwidth, where these run at 40-57 GB/s; from memory they are then bound by the stream.
//!
//! The packed layout is built once from the mapped file and read in its place, each block's
//! lines in the order the product reads them (the hardware prefetcher follows one stream):
//! - Q8_0: the quants regrouped four bytes at a time, two blocks' d in one line: 1088 bytes per
//!   two blocks of 16 rows, as in the file.
//! - Q4_K: the file's level and scale bytes regrouped, nibbles and 6-bit fields kept (the
//!   prefill panel's decoded bytes would double what decode streams): 2304 bytes per block of
//!   16 rows, as in the file.
//! - Q6_K: the file's low and high bits regrouped the same way, the scales in pairs: 3392
//!   bytes per block of 16 rows (3360 in the file).
//!
//! Each lane's result equals the row dot in `avx512.rs` bit for bit: the same exact integer
//! sums, then the same float operations in the same order (those of the prefill tiles, which
//! equal the row dots already). Rows beyond the last whole group take the row dot itself.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::avx2::{f16_at, f16_table, q8_k_scale};
use super::avx512::dpwssd;
use super::avx512_tiles::{kx_prep, q8_0_prep, KX_SIDE, LANES};
use super::layout;
use super::packed::Line;

/// A register's worth of `lines`, as the packing wrote them.
#[inline(always)]
fn registers(lines: &[Line]) -> &[__m512i] {
    // SAFETY: a Line is 64 bytes aligned to 64, as __m512i; any bytes are a valid __m512i.
    unsafe { std::slice::from_raw_parts(lines.as_ptr() as *const __m512i, lines.len()) }
}

/// Lines per two blocks of a packed Q8_0 group, in the order the product reads them: the two
/// blocks' d of every row as the file's f16 (1: bytes 32j + 2r.. are block j's row r; a last
/// odd block leaves the second half unused), then each block's quants with 128 added (8: line
/// k holds quants 4k..4k + 4 of row r in lane r, unsigned for `vpdpbusd` as in the prefill
/// tile): 1088 bytes for two blocks of 16 rows, as in the file.
const Q8_PAIR_LINES: usize = 1 + 2 * Q8_QUANTS;
/// Lines of one block's quants.
const Q8_QUANTS: usize = 8;

/// Lines of a Q8_0 group of `blocks` blocks: whole pairs, then a last block's d line and quants.
const fn q8_0_group_lines(blocks: usize) -> usize {
    blocks / 2 * Q8_PAIR_LINES + blocks % 2 * (1 + Q8_QUANTS)
}

/// Q8_0: 16 rows regrouped as `Q8_PAIR_LINES` describes. (Plain code, as `q4_k_pack_group`.)
pub(crate) unsafe fn q8_0_pack_group(rows: &[&[u8]; LANES], out: &mut Vec<Line>) {
    use layout::q8_0::{D, QS, SIZE};
    let blocks = rows[0].len() / SIZE;
    let start = out.len();
    out.resize(start + q8_0_group_lines(blocks), Line([0; 64]));
    for b in 0..blocks {
        let d_line = start + b / 2 * Q8_PAIR_LINES;
        let quants = d_line + 1 + Q8_QUANTS * (b % 2);
        for (r, row) in rows.iter().enumerate() {
            let wb = &row[b * SIZE..(b + 1) * SIZE];
            let at = 32 * (b % 2) + 2 * r;
            out[d_line].0[at..at + 2].copy_from_slice(&wb[D]);
            for (k, four) in wb[QS].chunks_exact(4).enumerate() {
                for (i, q) in four.iter().enumerate() {
                    out[quants + k].0[4 * r + i] = q ^ 0x80;
                }
            }
        }
    }
}

/// Q8_0 against one token, `groups` groups of 16 rows, as the prefill tile (`q8_0_tile`) sums
/// a block: eight `vpdpbusd` from -128 times the block's activation sum give each row's exact
/// dot in its lane, then the row dot's multiply-add into sum b % 4.
///
/// No software prefetch, as in the Q4_K and Q6_K products: the hardware prefetcher follows the
/// one stream. Measured on 24 random 5632x2048 matrices from memory, one thread, medians of
/// 15 (GB/s, alternating builds): 22.7, 17.5, 25.4, 20.2, 19.7 without, against 18.7, 16.7,
/// 20.7, 17.2, 19.6 asking 16 KiB ahead into L2; TinyLlama-shaped Q8_0 decode at one thread,
/// 20.3-22.7 tok/s without, 16.5-19.5 with.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q8_0_run(lines: &[Line], groups: usize, a: &[u8], y: &mut [f32]) {
    use layout::q8_0::{QS, SIZE};
    let blocks = a.len() / SIZE;
    let mut side = Vec::with_capacity(blocks);
    q8_0_prep::<1>(&[a], &mut side);
    let group_lines = q8_0_group_lines(blocks);
    let panel = registers(lines);
    assert!(panel.len() >= groups * group_lines && y.len() >= groups * LANES);
    for (g, y) in y.chunks_exact_mut(LANES).take(groups).enumerate() {
        let group = panel.as_ptr().add(g * group_lines);
        let mut acc = [_mm512_setzero_ps(); 4];
        for b in 0..blocks {
            let d_line = group.add(b / 2 * Q8_PAIR_LINES);
            let quants = d_line.add(1 + Q8_QUANTS * (b % 2));
            let s = side.as_ptr().add(b) as *const i32;
            let aq = a.as_ptr().add(b * SIZE + QS.start) as *const i32;
            let four = |k: usize| _mm512_set1_epi32(aq.add(k).read_unaligned());
            let (mut s0, mut s1) = (_mm512_set1_epi32(*s), _mm512_setzero_si512());
            for k in (0..8).step_by(2) {
                s0 = _mm512_dpbusd_epi32(s0, *quants.add(k), four(k));
                s1 = _mm512_dpbusd_epi32(s1, *quants.add(k + 1), four(k + 1));
            }
            let dot = _mm512_add_epi32(s0, s1);
            let d = _mm512_cvtph_ps(_mm256_load_si256((d_line as *const __m256i).add(b % 2)));
            let da = _mm512_set1_ps(*(s.add(4) as *const f32));
            acc[b % 4] = _mm512_fmadd_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(dot), acc[b % 4]);
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_storeu_ps(y.as_mut_ptr(), sum);
    }
}

/// Lines per block of a packed Q4_K group, in the order the product reads them (as the Q6_K
/// layout): the file's twelve scale bytes (3: line `KX_SCALES` + m holds bytes 4m, 4m + 1 of
/// row r at 2r, 2r + 1 and bytes 4m + 2, 4m + 3 at 32 + 2r, 32 + 2r + 1, so that the 6-bit
/// scales and mins of sub-blocks 2q and 2q + 1 decode, all rows at once, into the 16-bit pairs
/// the product widens), the level bytes (32: line `KX_LEVELS` + 8c + k holds bytes 4k..4k + 4
/// of chunk c's 32, whose low nibbles are sub-block 2c and high 2c + 1, of row r in lane r),
/// d then dmin of every row as the file's f16 (1; `vcvtph2ps` gives the f32 that `f16_at`
/// looks up): 2304 bytes for 16 rows, as in the file. (Scales and mins unpacked to bytes took
/// a line more, 2.7% more to read, for about 20 fewer register operations a block.)
const KX_LINES: usize = KX_DM + 1;
const KX_SCALES: usize = 0;
const KX_LEVELS: usize = 3;
const KX_DM: usize = KX_LEVELS + 32;

/// Q4_K: 16 rows regrouped as `KX_LINES` describes. (Plain code: `unsafe` only for the
/// dispatch table's one signature.)
pub(crate) unsafe fn q4_k_pack_group(rows: &[&[u8]; LANES], out: &mut Vec<Line>) {
    use layout::q4_k::{D, DMIN, QS, SCALES, SIZE};
    for b in 0..rows[0].len() / SIZE {
        let block = |r: usize| &rows[r][b * SIZE..(b + 1) * SIZE];
        let start = out.len();
        out.resize(start + KX_LINES, Line([0; 64]));
        let lines = &mut out[start..];
        for r in 0..LANES {
            let wb = block(r);
            for (i, four) in wb[QS].chunks_exact(4).enumerate() {
                lines[KX_LEVELS + i].0[4 * r..4 * r + 4].copy_from_slice(four);
            }
            for (m, four) in wb[SCALES].chunks_exact(4).enumerate() {
                lines[KX_SCALES + m].0[2 * r..2 * r + 2].copy_from_slice(&four[..2]);
                lines[KX_SCALES + m].0[32 + 2 * r..32 + 2 * r + 2].copy_from_slice(&four[2..]);
            }
            lines[KX_DM].0[2 * r..2 * r + 2].copy_from_slice(&wb[D]);
            lines[KX_DM].0[32 + 2 * r..32 + 2 * r + 2].copy_from_slice(&wb[DMIN]);
        }
    }
}

/// Q4_K against one token, `groups` groups of 16 rows, as the prefill tile (`kx_tile`) sums a
/// block: per sub-block, eight `vpdpbusd` give each row's exact dot in its lane, times its
/// scale into the block's sum; the min term from four `vpdpwssd`; then the scalar row dot's
/// float operations, lane by lane. (Two groups at a time, block by block, for two streams
/// from memory, measured no faster.)
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q4_k_run(lines: &[Line], groups: usize, a: &[u8], y: &mut [f32]) {
    let blocks = a.len() / layout::q8_k::SIZE;
    let mut side = Vec::with_capacity(blocks * KX_SIDE);
    kx_prep::<1>(&[a], &mut side);
    let panel = registers(lines);
    assert!(panel.len() >= groups * blocks * KX_LINES && y.len() >= groups * LANES);
    for (g, y) in y.chunks_exact_mut(LANES).take(groups).enumerate() {
        let group = panel.as_ptr().add(g * blocks * KX_LINES);
        let mut acc = _mm512_setzero_ps();
        for b in 0..blocks {
            acc = _mm512_add_ps(acc, kx_block(group.add(b * KX_LINES), a, &side, b));
        }
        _mm512_storeu_ps(y.as_mut_ptr(), acc);
    }
}

/// The 6-bit scales and mins of a packed Q4_K block (its three scale lines at `p`), as the
/// file's rule gives them (`scales_mins_k4`), for all 16 rows at once: bytes 2r + i and
/// 32 + 2r + i of `[0]` are row r's scales of sub-blocks i and 2 + i, of `[1]` those of 4 + i
/// and 6 + i; `[2]` and `[3]` the same for the mins.
#[inline(always)]
unsafe fn kx_scales_mins(p: *const __m512i) -> [__m512i; 4] {
    let (low6, top2, nibble) = (
        _mm512_set1_epi8(0x3F),
        _mm512_set1_epi8(0xC0u8 as i8),
        _mm512_set1_epi8(0xF),
    );
    // Bytes 0-3 of a row, 4-7 and 8-11, each pair of sub-blocks at the same place in the line.
    // Volatile, as the level lines in `kx_block`: so the lines are read in the order they lie.
    let (b0, b4, b8) = (
        p.read_volatile(),
        p.add(1).read_volatile(),
        p.add(2).read_volatile(),
    );
    // (x & y) | z, bit by bit; the 16-bit shifts move no set bit across a byte.
    let or_masked = |x, y, z| _mm512_ternarylogic_epi32::<0xEA>(x, y, z);
    let top = |v| _mm512_srli_epi16::<2>(_mm512_and_si512(v, top2));
    [
        _mm512_and_si512(b0, low6),
        or_masked(b8, nibble, top(b0)),
        _mm512_and_si512(b4, low6),
        or_masked(_mm512_srli_epi16::<4>(b8), nibble, top(b4)),
    ]
}

/// One packed Q4_K block (`p`, `KX_LINES` lines) of 16 rows against block `b` of the token
/// (`a`, its side data from `kx_prep`): each row's term, which the row dot adds to its sum.
#[inline(always)]
unsafe fn kx_block(p: *const __m512i, a: &[u8], side: &[__m512i], b: usize) -> __m512 {
    use layout::q8_k::{QS as AQS, SIZE as ASIZE};
    let zero = _mm512_setzero_si512();
    let nibble = _mm512_set1_epi8(0xF);
    let aq = a.as_ptr().add(b * ASIZE + AQS.start);
    let four = |at: usize| _mm512_set1_epi32((aq.add(at) as *const i32).read_unaligned());
    let [scales_lo, scales_hi, mins_lo, mins_hi] = kx_scales_mins(p.add(KX_SCALES));
    // Sub-blocks 2q and 2q + 1 of every row as a 16-bit pair in its lane.
    let pair = |v: __m512i, half: usize| {
        _mm512_cvtepu8_epi16(match half {
            0 => _mm512_castsi512_si256(v),
            _ => _mm512_extracti64x4_epi64::<1>(v),
        })
    };
    // The high nibbles stay in place (16 times the level: one operation fewer than shifting
    // them down), so their products carry a factor 16 that one exact shift takes out.
    let (mut isum, mut isum16) = (zero, zero);
    for c in 0..4 {
        let (mut lo, mut hi16) = (zero, zero);
        for k in 0..8 {
            // Volatile only to keep the lines in stream order: with plain loads the compiler
            // interleaved the four chunks, and from memory the product fell from 24-29 GB/s to
            // 10-11 (the hardware prefetcher lost the stream, as `Q6_LINES` tells).
            let q = p.add(KX_LEVELS + 8 * c + k).read_volatile();
            let (ql, qh16) = (_mm512_and_si512(q, nibble), _mm512_andnot_si512(nibble, q));
            lo = _mm512_dpbusd_epi32(lo, ql, four(64 * c + 4 * k));
            hi16 = _mm512_dpbusd_epi32(hi16, qh16, four(64 * c + 32 + 4 * k));
        }
        let scales = pair(if c < 2 { scales_lo } else { scales_hi }, c % 2);
        let (even, odd) = (
            _mm512_and_si512(scales, _mm512_set1_epi32(0xFFFF)),
            _mm512_srli_epi32::<16>(scales),
        );
        isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(lo, even));
        isum16 = _mm512_add_epi32(isum16, _mm512_mullo_epi32(hi16, odd));
    }
    let isum = _mm512_add_epi32(isum, _mm512_srai_epi32::<4>(isum16));
    let s = side.as_ptr().add(b * KX_SIDE) as *const i32;
    let mut msum = zero;
    for q in 0..4 {
        let mins = pair(if q < 2 { mins_lo } else { mins_hi }, q % 2);
        msum = dpwssd(msum, mins, _mm512_set1_epi32(*s.add(q)));
    }
    let da = _mm512_set1_ps(*(s.add(16) as *const f32));
    let dm = p.add(KX_DM) as *const __m256i;
    let (d, dmin) = (
        _mm512_cvtph_ps(_mm256_load_si256(dm)),
        _mm512_cvtph_ps(_mm256_load_si256(dm.add(1))),
    );
    _mm512_sub_ps(
        _mm512_mul_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(isum)),
        _mm512_mul_ps(_mm512_mul_ps(dmin, da), _mm512_cvtepi32_ps(msum)),
    )
}

/// Lines per block of a packed Q6_K group, in the order the product reads them (out of order,
/// the hardware prefetcher lost the stream and packed decode ran at half the row dot's speed):
/// the scales in pairs (4: bytes 32m + 2r and 32m + 2r + 1 are row r's sub-blocks 2m and
/// 2m + 1, as 16-bit pairs once widened), then for h < 2 and k < 8 three lines with bytes
/// 4k..4k + 4 of `ql[64h..]`, `ql[64h + 32..]` and `qh[32h..]` of row r in lane r (48), then d
/// of every row as f32 (1): 3392 bytes for 16 rows (3360 in the file).
const Q6_LINES: usize = Q6_D + 1;
const Q6_SCALES: usize = 0;
const Q6_LEVELS: usize = 4;
const Q6_D: usize = Q6_LEVELS + 48;

/// Q6_K: 16 rows regrouped as `Q6_LINES` describes. (Plain code, as `q4_k_pack_group`.)
pub(crate) unsafe fn q6_k_pack_group(rows: &[&[u8]; LANES], out: &mut Vec<Line>) {
    use layout::q6_k::{D, QH, QL, SCALES, SIZE};
    let t16 = f16_table();
    for b in 0..rows[0].len() / SIZE {
        let start = out.len();
        out.resize(start + Q6_LINES, Line([0; 64]));
        let lines = &mut out[start..];
        for (r, row) in rows.iter().enumerate() {
            let wb = &row[b * SIZE..(b + 1) * SIZE];
            for h in 0..2 {
                for k in 0..8 {
                    let at = [
                        QL.start + 64 * h + 4 * k,
                        QL.start + 64 * h + 32 + 4 * k,
                        QH.start + 32 * h + 4 * k,
                    ];
                    for (j, at) in at.into_iter().enumerate() {
                        let line = &mut lines[Q6_LEVELS + 24 * h + 3 * k + j];
                        line.0[4 * r..4 * r + 4].copy_from_slice(&wb[at..at + 4]);
                    }
                }
            }
            for (s, &scale) in wb[SCALES].iter().enumerate() {
                let at = 32 * (s / 2) + 2 * r + s % 2;
                lines[Q6_SCALES + at / 64].0[at % 64] = scale;
            }
            let d = f16_at(t16, wb, D).to_le_bytes();
            lines[Q6_D].0[4 * r..4 * r + 4].copy_from_slice(&d);
        }
    }
}

/// Q6_K against one token, `groups` groups of 16 rows, as the prefill tile (`q6_k_tile`) sums
/// a block: per sub-block of 16, four `vpdpbusd` of the rows' levels (decoded from the low and
/// high bits as `q6_k_levels` does) and one `vpmulld` by its scale; the levels' +32 off as 32
/// times the scale pairs by the token's sub-block sums; then the row dot's multiply-add.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn q6_k_run(lines: &[Line], groups: usize, a: &[u8], y: &mut [f32]) {
    use layout::q8_k::{BSUMS, QS as AQS, SIZE as ASIZE};
    let blocks = a.len() / ASIZE;
    let panel = registers(lines);
    assert!(panel.len() >= groups * blocks * Q6_LINES && y.len() >= groups * LANES);
    let zero = _mm512_setzero_si512();
    let (mask4, mask2) = (_mm512_set1_epi8(0xF), _mm512_set1_epi8(3));
    for (g, y) in y.chunks_exact_mut(LANES).take(groups).enumerate() {
        let mut acc = _mm512_setzero_ps();
        for b in 0..blocks {
            let p = panel.as_ptr().add((g * blocks + b) * Q6_LINES);
            let ab = &a[b * ASIZE..(b + 1) * ASIZE];
            let aq = ab.as_ptr().add(AQS.start);
            let four = |at: usize| _mm512_set1_epi32((aq.add(at) as *const i32).read_unaligned());
            // Scale pair m: sub-blocks 2m and 2m + 1 as the low and high 16 bits of each lane.
            let pairs: [__m512i; 8] = std::array::from_fn(|m| {
                _mm512_cvtepi8_epi16(_mm256_loadu_si256(
                    (p.add(Q6_SCALES) as *const u8).add(32 * m) as *const __m256i,
                ))
            });
            let scale = |s: usize| {
                let pair = pairs[s / 2];
                if s.is_multiple_of(2) {
                    _mm512_srai_epi32::<16>(_mm512_slli_epi32::<16>(pair))
                } else {
                    _mm512_srai_epi32::<16>(pair)
                }
            };
            let mut isum = zero;
            for h in 0..2 {
                // dots[m][k / 4]: elements 128h + 32m + 16(k / 4).. (sub-block 8h + 2m + k / 4).
                let mut dots = [[zero; 2]; 4];
                for k in 0..8 {
                    let at = Q6_LEVELS + 24 * h + 3 * k;
                    let (ql0, ql1, qh) = (*p.add(at), *p.add(at + 1), *p.add(at + 2));
                    let high = |s: u32| {
                        let shifted = _mm512_srl_epi16(qh, _mm_cvtsi32_si128(2 * s as i32));
                        _mm512_slli_epi16::<4>(_mm512_and_si512(shifted, mask2))
                    };
                    let levels = [
                        _mm512_or_si512(_mm512_and_si512(ql0, mask4), high(0)),
                        _mm512_or_si512(_mm512_and_si512(ql1, mask4), high(1)),
                        _mm512_or_si512(
                            _mm512_and_si512(_mm512_srli_epi16::<4>(ql0), mask4),
                            high(2),
                        ),
                        _mm512_or_si512(
                            _mm512_and_si512(_mm512_srli_epi16::<4>(ql1), mask4),
                            high(3),
                        ),
                    ];
                    for (m, levels) in levels.into_iter().enumerate() {
                        let dot = &mut dots[m][k / 4];
                        *dot = _mm512_dpbusd_epi32(*dot, levels, four(128 * h + 32 * m + 4 * k));
                    }
                }
                for (m, halves) in dots.iter().enumerate() {
                    for (i, dot) in halves.iter().enumerate() {
                        let sc = scale(8 * h + 2 * m + i);
                        isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(*dot, sc));
                    }
                }
            }
            let bsums = ab.as_ptr().add(BSUMS.start) as *const i32;
            let mut bias = zero;
            for (m, pair) in pairs.iter().enumerate() {
                let sums = _mm512_set1_epi32(bsums.add(m).read_unaligned());
                bias = dpwssd(bias, *pair, sums);
            }
            let isum = _mm512_sub_epi32(isum, _mm512_slli_epi32::<5>(bias));
            let da = _mm512_set1_ps(q8_k_scale(ab));
            let d = _mm512_castsi512_ps(*p.add(Q6_D));
            acc = _mm512_fmadd_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(isum), acc);
        }
        _mm512_storeu_ps(y.as_mut_ptr(), acc);
    }
}
