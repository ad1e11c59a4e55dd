//! Readers and writers of the packed fields block layouts share: f16 scales, the qh word of
//! Q5_0/Q5_1, nibble and five-bit levels, and the 6-bit scale packings of the K-quants. Public
//! through `quant::layout` so tests can decode blocks independently of the dequantizers.

use std::ops::Range;

/// The f16 at `range` of `block`, widened to f32 exactly.
#[inline(always)]
pub fn f16_at(block: &[u8], range: Range<usize>) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([
        block[range.start],
        block[range.start + 1],
    ]))
    .to_f32()
}

/// Stores `v` rounded to f16 at `range` of `block`.
pub(crate) fn put_f16(block: &mut [u8], range: Range<usize>, v: f32) {
    block[range].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
}

/// The little-endian u32 at `range` of `block` (the qh bits of Q5_0 and Q5_1).
#[inline(always)]
pub fn u32_at(block: &[u8], range: Range<usize>) -> u32 {
    let b = &block[range.start..range.start + 4];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Level j (0..32) of a Q4_0/Q4_1 block's 16 quant bytes: element j < 16 is the low nibble of
/// qs[j], element j + 16 its high nibble.
#[inline(always)]
pub fn nibble(qs: &[u8], j: usize) -> u8 {
    (qs[j % 16] >> (4 * (j / 16))) & 0xF
}

/// Level j (0..32) of a Q5_0/Q5_1 block: the nibble as in Q4_0, with bit j of `qh` as bit 4.
#[inline(always)]
pub fn five_bit(qh: u32, qs: &[u8], j: usize) -> u8 {
    nibble(qs, j) | ((((qh >> j) & 1) as u8) << 4)
}

/// The 6-bit scale and min of sub-block `j` (0..8) of a Q4_K/Q5_K block's 12 packed scale bytes
/// (ggml's get_scale_min_k4).
#[inline(always)]
pub fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// The signed 6-bit scale of sub-block `j` (0..16) of a Q3_K block's 12 packed scale bytes.
#[inline(always)]
pub fn scale_q3_k(j: usize, s: &[u8]) -> i8 {
    let low = (s[j % 8] >> (4 * (j / 8))) & 0xF;
    let high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    (low | (high << 4)) as i8 - 32
}
