//! Portable scalar row dots: the reference every SIMD path is tested against. Quantized weights
//! meet quantized activations with integer sums per block, as ggml's `vec_dot_*_q8_*` do.

use super::layout::{self, f16_at, scale_min_k4, u32_at, QK_K};

/// Weights in a float format against f32 activations.
pub(crate) fn f32_row(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(4)
        .zip(x)
        .map(|(b, &x)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * x)
        .sum()
}

pub(crate) fn f16_row(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(2)
        .zip(x)
        .map(|(b, &x)| f16_at(b, 0..2) * x)
        .sum()
}

pub(crate) fn bf16_row(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(2)
        .zip(x)
        .map(|(b, &x)| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16) * x)
        .sum()
}

pub(crate) fn q8_0_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q8_0::*;
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(SIZE)) {
        let sumi: i32 = wb[QS]
            .iter()
            .zip(&ab[QS])
            .map(|(&q, &v)| i32::from(q as i8) * i32::from(v as i8))
            .sum();
        acc += sumi as f32 * (f16_at(wb, D) * f16_at(ab, D));
    }
    acc
}

pub(crate) fn q4_0_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q4_0::*;
    use layout::q8_0::{D as AD, QS as AQS, SIZE as ASIZE};
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(ASIZE)) {
        let (qs, av) = (&wb[QS], &ab[AQS]);
        let mut sumi = 0i32;
        for j in 0..16 {
            let lo = i32::from(qs[j] & 0xF) - 8;
            let hi = i32::from(qs[j] >> 4) - 8;
            sumi += lo * i32::from(av[j] as i8) + hi * i32::from(av[j + 16] as i8);
        }
        acc += sumi as f32 * (f16_at(wb, D) * f16_at(ab, AD));
    }
    acc
}

/// A legacy block's integer dot as ggml's generic dots take it: over j < 16, the levels of
/// elements j and j + 16 (`levels(j)`, from quant byte j) times activation quants j and j + 16.
#[inline(always)]
fn block_sumi(aq: &[u8], levels: impl Fn(usize) -> (i32, i32)) -> i32 {
    (0..16)
        .map(|j| {
            let (x0, x1) = levels(j);
            x0 * i32::from(aq[j] as i8) + x1 * i32::from(aq[j + 16] as i8)
        })
        .sum()
}

/// Q5_0/Q5_1 levels j and j + 16: the nibbles of quant byte j with bits j and j + 16 of qh as
/// their fifth bits.
#[inline(always)]
fn five_bit_pair(qh: u32, qs: &[u8], j: usize) -> (i32, i32) {
    (
        i32::from(qs[j] & 0xF) | (((qh >> j) << 4) & 0x10) as i32,
        i32::from(qs[j] >> 4) | ((qh >> (j + 12)) & 0x10) as i32,
    )
}

/// Q4_1 against Q8_1, as ggml_vec_dot_q4_1_q8_1: unsigned levels, and the min's term from the
/// activation block's stored sum, d_a * sum(a) as f16.
pub(crate) fn q4_1_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q4_1::*;
    use layout::q8_1::{D as AD, QS as AQS, S as AS, SIZE as ASIZE};
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(ASIZE)) {
        let qs = &wb[QS];
        let sumi = block_sumi(&ab[AQS], |j| {
            (i32::from(qs[j] & 0xF), i32::from(qs[j] >> 4))
        });
        acc += f16_at(wb, D) * f16_at(ab, AD) * sumi as f32 + f16_at(wb, M) * f16_at(ab, AS);
    }
    acc
}

/// Q5_0 against Q8_0, as ggml_vec_dot_q5_0_q8_0: levels 0..32 stored +16.
pub(crate) fn q5_0_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q5_0::*;
    use layout::q8_0::{D as AD, QS as AQS, SIZE as ASIZE};
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(ASIZE)) {
        let (qh, qs) = (u32_at(wb, QH), &wb[QS]);
        let sumi = block_sumi(&ab[AQS], |j| {
            let (x0, x1) = five_bit_pair(qh, qs, j);
            (x0 - 16, x1 - 16)
        });
        acc += sumi as f32 * (f16_at(wb, D) * f16_at(ab, AD));
    }
    acc
}

/// Q5_1 against Q8_1, as ggml_vec_dot_q5_1_q8_1: Q4_1's formula with five-bit levels.
pub(crate) fn q5_1_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q5_1::*;
    use layout::q8_1::{D as AD, QS as AQS, S as AS, SIZE as ASIZE};
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(ASIZE)) {
        let (qh, qs) = (u32_at(wb, QH), &wb[QS]);
        let sumi = block_sumi(&ab[AQS], |j| five_bit_pair(qh, qs, j));
        acc += f16_at(wb, D) * f16_at(ab, AD) * sumi as f32 + f16_at(wb, M) * f16_at(ab, AS);
    }
    acc
}

/// The Q8_K activation block's scale, quants and 16-element sums.
#[inline(always)]
pub(crate) fn q8_k_parts(ab: &[u8]) -> (f32, &[u8], [i32; 16]) {
    use layout::q8_k::*;
    let d = f32::from_le_bytes(ab[D].try_into().unwrap());
    let mut bsums = [0i32; 16];
    for (s, b) in bsums.iter_mut().zip(ab[BSUMS].chunks_exact(2)) {
        *s = i32::from(i16::from_le_bytes([b[0], b[1]]));
    }
    (d, &ab[QS], bsums)
}

/// Q4_K and Q5_K: `q(g, l)` gives sub-block g's level l; the min term uses the activation sums.
#[inline(always)]
fn kx_row(w: &[u8], a: &[u8], size: usize, q: impl Fn(&[u8], usize, usize) -> i32) -> f32 {
    use layout::q4_k::{D, DMIN, SCALES};
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(size).zip(a.chunks_exact(layout::q8_k::SIZE)) {
        let (da, aq, bsums) = q8_k_parts(ab);
        let (mut isum, mut msum) = (0i32, 0i32);
        for g in 0..8 {
            let (sc, m) = scale_min_k4(g, &wb[SCALES]);
            let dot: i32 = (0..32)
                .map(|l| q(wb, g, l) * i32::from(aq[32 * g + l] as i8))
                .sum();
            isum += i32::from(sc) * dot;
            msum += i32::from(m) * (bsums[2 * g] + bsums[2 * g + 1]);
        }
        acc += f16_at(wb, D) * da * isum as f32 - f16_at(wb, DMIN) * da * msum as f32;
    }
    acc
}

pub(crate) fn q4_k_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q4_k::{QS, SIZE};
    kx_row(w, a, SIZE, |wb, g, l| {
        i32::from((wb[QS.start + 32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF)
    })
}

pub(crate) fn q5_k_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q5_k::{QH, QS, SIZE};
    kx_row(w, a, SIZE, |wb, g, l| {
        let low = (wb[QS.start + 32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF;
        let high = (wb[QH.start + l] >> g) & 1;
        i32::from(low | (high << 4))
    })
}

pub(crate) fn q6_k_row(w: &[u8], a: &[u8]) -> f32 {
    use layout::q6_k::*;
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(layout::q8_k::SIZE)) {
        let (da, aq, _) = q8_k_parts(ab);
        let (ql, qh, scales) = (&wb[QL], &wb[QH], &wb[SCALES]);
        let level = |i: usize| {
            let (h, s, l) = (i / 128, (i / 32) % 4, i % 32);
            let low = (ql[64 * h + 32 * (s % 2) + l] >> (4 * (s / 2))) & 0xF;
            let high = (qh[32 * h + l] >> (2 * s)) & 3;
            i32::from(low | (high << 4)) - 32
        };
        let isum: i32 = (0..QK_K / 16)
            .zip(scales)
            .map(|(sub, &sc)| {
                let dot: i32 = (16 * sub..16 * sub + 16)
                    .zip(&aq[16 * sub..16 * sub + 16])
                    .map(|(i, &a)| level(i) * i32::from(a as i8))
                    .sum();
                i32::from(sc as i8) * dot
            })
            .sum();
        acc += f16_at(wb, D) * da * isum as f32;
    }
    acc
}
