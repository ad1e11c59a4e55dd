//! Dequantization to f32, bit-exact with gguf-py (and so with ggml): each function performs the
//! same float32 operations in the same order as gguf-py's numpy code, block by block.

use super::layout::{self, f16_at, five_bit, nibble, scale_min_k4, scale_q3_k, u32_at, QK, QK_K};

/// Dequantizes one block of `b` (exactly one block's bytes) into `y` (one block's elements).
pub(crate) type BlockFn = fn(b: &[u8], y: &mut [f32]);

pub(crate) fn f32_block(b: &[u8], y: &mut [f32]) {
    y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
}

pub(crate) fn f16_block(b: &[u8], y: &mut [f32]) {
    y[0] = f16_at(b, 0..2);
}

pub(crate) fn bf16_block(b: &[u8], y: &mut [f32]) {
    y[0] = f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16);
}

pub(crate) fn q4_0(b: &[u8], y: &mut [f32]) {
    use layout::q4_0::*;
    let d = f16_at(b, D);
    let qs = &b[QS];
    for (j, y) in y.iter_mut().enumerate().take(QK) {
        *y = d * (nibble(qs, j) as i8 - 8) as f32;
    }
}

pub(crate) fn q4_1(b: &[u8], y: &mut [f32]) {
    use layout::q4_1::*;
    let (d, m) = (f16_at(b, D), f16_at(b, M));
    let qs = &b[QS];
    for (j, y) in y.iter_mut().enumerate().take(QK) {
        *y = d * nibble(qs, j) as f32 + m;
    }
}

pub(crate) fn q5_0(b: &[u8], y: &mut [f32]) {
    use layout::q5_0::*;
    let d = f16_at(b, D);
    let qh = u32_at(b, QH);
    let qs = &b[QS];
    for (j, y) in y.iter_mut().enumerate().take(QK) {
        *y = d * (five_bit(qh, qs, j) as i8 - 16) as f32;
    }
}

pub(crate) fn q5_1(b: &[u8], y: &mut [f32]) {
    use layout::q5_1::*;
    let (d, m) = (f16_at(b, D), f16_at(b, M));
    let qh = u32_at(b, QH);
    let qs = &b[QS];
    for (j, y) in y.iter_mut().enumerate().take(QK) {
        *y = d * five_bit(qh, qs, j) as f32 + m;
    }
}

pub(crate) fn q8_0(b: &[u8], y: &mut [f32]) {
    use layout::q8_0::*;
    let d = f16_at(b, D);
    for (y, &q) in y.iter_mut().zip(&b[QS]) {
        *y = q as i8 as f32 * d;
    }
}

/// Q8_1 (an activation format; ggml has no dequantizer for it): d times each quant, as Q8_0.
/// The stored sum `s` is redundant and not read.
pub(crate) fn q8_1(b: &[u8], y: &mut [f32]) {
    use layout::q8_1::*;
    let d = f16_at(b, D);
    for (y, &q) in y.iter_mut().zip(&b[QS]) {
        *y = q as i8 as f32 * d;
    }
}

/// Q2_K: 16 sub-blocks of 16; element i = 128h + 32s + l takes bits 2s of qs[32h + l].
pub(crate) fn q2_k(b: &[u8], y: &mut [f32]) {
    use layout::q2_k::*;
    let (d, dmin) = (f16_at(b, D), f16_at(b, DMIN));
    let (scales, qs) = (&b[SCALES], &b[QS]);
    for (i, y) in y.iter_mut().enumerate().take(QK_K) {
        let (h, s, l) = (i / 128, (i / 32) % 4, i % 32);
        let q = (qs[32 * h + l] >> (2 * s)) & 3;
        let sc = scales[i / 16];
        let dl = d * (sc & 0xF) as f32;
        let ml = dmin * (sc >> 4) as f32;
        *y = dl * q as f32 - ml;
    }
}

/// Q3_K: 2 low bits as in Q2_K, the high bit of element i = 32b + l is bit b of hmask[l], and
/// a set bit means no offset (q - 4 when clear).
pub(crate) fn q3_k(b: &[u8], y: &mut [f32]) {
    use layout::q3_k::*;
    let d = f16_at(b, D);
    let (hmask, qs, scales) = (&b[HMASK], &b[QS], &b[SCALES]);
    for (i, y) in y.iter_mut().enumerate().take(QK_K) {
        let (h, s, l) = (i / 128, (i / 32) % 4, i % 32);
        let low = ((qs[32 * h + l] >> (2 * s)) & 3) as i8;
        let high = ((hmask[i % 32] >> (i / 32)) & 1) ^ 1;
        let dl = d * scale_q3_k(i / 16, scales) as f32;
        *y = dl * (low - ((high << 2) as i8)) as f32;
    }
}

/// Q4_K: 8 sub-blocks of 32; element i = 64c + 32s + l is nibble s of qs[32c + l].
pub(crate) fn q4_k(b: &[u8], y: &mut [f32]) {
    use layout::q4_k::*;
    let (d, dmin) = (f16_at(b, D), f16_at(b, DMIN));
    let (scales, qs) = (&b[SCALES], &b[QS]);
    for (g, y) in y.chunks_exact_mut(32).enumerate().take(8) {
        let (sc, m) = scale_min_k4(g, scales);
        let (dl, ml) = (d * sc as f32, dmin * m as f32);
        let (c, s) = (g / 2, g % 2);
        for (l, y) in y.iter_mut().enumerate() {
            let q = (qs[32 * c + l] >> (4 * s)) & 0xF;
            *y = dl * q as f32 - ml;
        }
    }
}

/// Q5_K: Q4_K's nibbles plus bit g of qh[l] as the fifth bit of sub-block g's element l.
pub(crate) fn q5_k(b: &[u8], y: &mut [f32]) {
    use layout::q5_k::*;
    let (d, dmin) = (f16_at(b, D), f16_at(b, DMIN));
    let (scales, qh, qs) = (&b[SCALES], &b[QH], &b[QS]);
    for (g, y) in y.chunks_exact_mut(32).enumerate().take(8) {
        let (sc, m) = scale_min_k4(g, scales);
        let (dl, ml) = (d * sc as f32, dmin * m as f32);
        let (c, s) = (g / 2, g % 2);
        for (l, y) in y.iter_mut().enumerate() {
            let q = ((qs[32 * c + l] >> (4 * s)) & 0xF) | (((qh[l] >> g) & 1) << 4);
            *y = dl * q as f32 - ml;
        }
    }
}

/// Q6_K: element i = 128h + 32s + l: low nibble s/2 of ql[64h + 32(s%2) + l], high bits 2s of
/// qh[32h + l]; 16 sub-blocks with int8 scales.
pub(crate) fn q6_k(b: &[u8], y: &mut [f32]) {
    use layout::q6_k::*;
    let d = f16_at(b, D);
    let (ql, qh, scales) = (&b[QL], &b[QH], &b[SCALES]);
    for (i, y) in y.iter_mut().enumerate().take(QK_K) {
        let (h, s, l) = (i / 128, (i / 32) % 4, i % 32);
        let low = (ql[64 * h + 32 * (s % 2) + l] >> (4 * (s / 2))) & 0xF;
        let high = (qh[32 * h + l] >> (2 * s)) & 3;
        let q = (low | (high << 4)) as i8 - 32;
        let dl = d * scales[i / 16] as i8 as f32;
        *y = dl * q as f32;
    }
}

pub(crate) fn q8_k(b: &[u8], y: &mut [f32]) {
    use layout::q8_k::*;
    let d = f32::from_le_bytes(b[D].try_into().unwrap());
    for (y, &q) in y.iter_mut().zip(&b[QS]) {
        *y = d * q as i8 as f32;
    }
}
