//! Byte layout of every block format (ggml-common.h): the one place field offsets are defined.
//! Each layout is checked at compile time against the block size in the ggml type table.

use std::ops::Range;

use crate::format::gguf::GgmlType;

/// Elements per K-quant super-block.
pub const QK_K: usize = 256;
/// Elements per legacy block.
pub const QK: usize = 32;

macro_rules! layout {
    ($name:ident: $ty:expr, { $($field:ident: $value:expr,)* } ends $end:expr) => {
        #[allow(dead_code)]
        pub mod $name {
            use super::*;
            pub const SIZE: usize = $end;
            $(pub const $field: Range<usize> = $value;)*
            const _: () = assert!(SIZE == $ty.type_size() as usize);
        }
    };
}

// f16 scales are 2-byte ranges; quant arrays as ggml lays them out.
layout!(q4_0: GgmlType::Q4_0, { D: 0..2, QS: 2..18, } ends 18);
layout!(q4_1: GgmlType::Q4_1, { D: 0..2, M: 2..4, QS: 4..20, } ends 20);
layout!(q5_0: GgmlType::Q5_0, { D: 0..2, QH: 2..6, QS: 6..22, } ends 22);
layout!(q5_1: GgmlType::Q5_1, { D: 0..2, M: 2..4, QH: 4..8, QS: 8..24, } ends 24);
layout!(q8_0: GgmlType::Q8_0, { D: 0..2, QS: 2..34, } ends 34);
layout!(q2_k: GgmlType::Q2_K, { SCALES: 0..16, QS: 16..80, D: 80..82, DMIN: 82..84, } ends 84);
layout!(q3_k: GgmlType::Q3_K, { HMASK: 0..32, QS: 32..96, SCALES: 96..108, D: 108..110, } ends 110);
layout!(q4_k: GgmlType::Q4_K, { D: 0..2, DMIN: 2..4, SCALES: 4..16, QS: 16..144, } ends 144);
layout!(q5_k: GgmlType::Q5_K, { D: 0..2, DMIN: 2..4, SCALES: 4..16, QH: 16..48, QS: 48..176, } ends 176);
layout!(q6_k: GgmlType::Q6_K, { QL: 0..128, QH: 128..192, SCALES: 192..208, D: 208..210, } ends 210);
// Q8_K is an activation format: an f32 scale, 256 int8 quants, 16 int16 sums of 16 quants each.
layout!(q8_k: GgmlType::Q8_K, { D: 0..4, QS: 4..260, BSUMS: 260..292, } ends 292);
// Q8_1 is the activation format of Q4_1 and Q5_1: an f16 scale d, the f16 of d * sum(qs) (so the
// weight min's term needs no pass over the quants), 32 int8 quants.
layout!(q8_1: GgmlType::Q8_1, { D: 0..2, S: 2..4, QS: 4..36, } ends 36);
const _: () = assert!(q8_1::SIZE == 2 + 2 + QK, "ggml's sizeof(block_q8_1)");

/// The f16 at `range` of `block`, widened to f32 exactly.
#[inline(always)]
pub fn f16_at(block: &[u8], range: Range<usize>) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([
        block[range.start],
        block[range.start + 1],
    ]))
    .to_f32()
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
