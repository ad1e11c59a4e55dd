//! Q8_0: 32 int8 quants and an f16 scale. A weight format, and the activation format the Q4_0,
//! Q5_0 and Q8_0 rows dot against; `quantize_x86` is how llama.cpp quantizes those activations
//! (and Q8_1's) at run time.

use super::bits::{f16_at, put_f16};
use super::fit::signed_absmax;
use super::{BlockType, Row};
use crate::quant::GgmlType;

layout!(Q8_0, { D: 0..2, QS: 2..34, } ends 34);

pub(crate) struct BlockQ8_0;

impl BlockType for BlockQ8_0 {
    const TYPE: GgmlType = GgmlType::Q8_0;
    const VEC_DOT_TYPE: GgmlType = GgmlType::Q8_0;
    const VEC_DOT: Option<Row> = Some(Row::Quant(vec_dot));

    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let d = f16_at(b, D);
        for (y, &q) in y.iter_mut().zip(&b[QS]) {
            *y = q as i8 as f32 * d;
        }
    }

    /// quantize_row_q8_0_ref, bit-exact with gguf-py.
    fn quantize(x: &[f32], b: &mut [u8]) {
        let (amax, _) = signed_absmax(x);
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, layout::D, d);
        for (q, &v) in b[layout::QS].iter_mut().zip(x) {
            // roundf: half away from zero, as gguf-py's np_roundf.
            *q = (v * id).round() as i8 as u8;
        }
    }
}

/// Q8_0 and Q8_1 activation blocks as llama.cpp's x86 CPU backend quantizes them at run time
/// (`quantize_row_q8_0` / `_q8_1` in ggml-cpu/arch/x86/quants.c), which is not ggml's `_ref`
/// quantizer above: the multiplier is 127 / amax rather than 1 / (amax / 127), and rounding goes
/// to nearest even. The two disagree in about one block in 2000, and a flipped activation moves
/// an output by a whole quantization step, so matching llama.cpp means matching this one.
pub(crate) fn quantize_x86(x: &[f32], b: &mut [u8], with_sum: bool) {
    use super::q8_1::layout as q8_1;
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let (d_at, qs) = if with_sum {
        (q8_1::D, q8_1::QS)
    } else {
        (layout::D, layout::QS)
    };
    put_f16(b, d_at, d);
    let mut sum = 0i32;
    for (q, &v) in b[qs].iter_mut().zip(x) {
        let v = round_ties_even(v * id) as i8;
        *q = v as u8;
        sum += i32::from(v);
    }
    if with_sum {
        put_f16(b, q8_1::S, d * sum as f32);
    }
}

/// `x` rounded to the nearest integer, ties to even, for |x| < 2^22 (here |x| <= 127): adding
/// 1.5 * 2^23 leaves no bits below the units, so the float addition itself rounds, to even. The
/// same as `f32::round_ties_even`, which is a call to `rintf` on the baseline x86-64 target and
/// was a tenth of a Q8_0 prefill's time.
#[inline(always)]
fn round_ties_even(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

/// The scalar row dot against Q8_0 activations.
fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    use layout::*;
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

/// A legacy block's integer dot as ggml's generic dots take it: over j < 16, the levels of
/// elements j and j + 16 (`levels(j)`, from quant byte j) times activation quants `aq` j and
/// j + 16 (of a Q8_0 or Q8_1 block).
#[inline(always)]
pub(crate) fn block_sumi(aq: &[u8], levels: impl Fn(usize) -> (i32, i32)) -> i32 {
    (0..16)
        .map(|j| {
            let (x0, x1) = levels(j);
            x0 * i32::from(aq[j] as i8) + x1 * i32::from(aq[j + 16] as i8)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i8s(b: &[u8]) -> Vec<i8> {
        b.iter().map(|&v| v as i8).collect()
    }

    /// llama.cpp's x86 activation rule rounds ties to even where the reference rounds them away
    /// from zero: with amax 127 the multiplier is exactly 1, so 2.5 is a tie.
    #[test]
    fn x86_activations_round_ties_to_even_with_127_over_amax() {
        let mut x = vec![0.0f32; 32];
        x[0] = 127.0;
        x[1] = 2.5;
        x[2] = -3.5;
        x[3] = 0.49;
        let mut ours = vec![0u8; 34];
        quantize_x86(&x, &mut ours, false);
        assert_eq!(&i8s(&ours[2..6]), &[127, 2, -4, 0]);
        let mut reference = vec![0u8; 34];
        BlockQ8_0::quantize(&x, &mut reference);
        assert_eq!(&i8s(&reference[2..6]), &[127, 3, -4, 0]);
        // Q8_1 carries s = d * sum(qs): here d = 1, sum = 127 + 2 - 4.
        let mut with_sum = vec![0u8; 36];
        quantize_x86(&x, &mut with_sum, true);
        assert_eq!(&with_sum[4..36], &ours[2..34]);
        let s = half::f16::from_le_bytes([with_sum[2], with_sum[3]]).to_f32();
        assert_eq!(s, 125.0);
        // All zeros stay zeros, with d = 0.
        let mut z = vec![1u8; 34];
        quantize_x86(&[0.0; 32], &mut z, false);
        assert!(z.iter().all(|&b| b == 0));
    }
}
