//! Q4_0: 32 four-bit levels stored +8 (element j < 16 the low nibble of qs[j], j + 16 its high
//! nibble) and an f16 scale; dotted against Q8_0 activations.

use super::bits::{f16_at, nibble, put_f16};
use super::fit::signed_absmax;
use super::{BlockType, Row};
use crate::quant::{GgmlType, QK};

layout!(Q4_0, { D: 0..2, QS: 2..18, } ends 18);

pub(crate) struct BlockQ4_0;

impl BlockType for BlockQ4_0 {
    const TYPE: GgmlType = GgmlType::Q4_0;
    const VEC_DOT_TYPE: GgmlType = GgmlType::Q8_0;
    const VEC_DOT: Option<Row> = Some(Row::Quant(vec_dot));

    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let d = f16_at(b, D);
        let qs = &b[QS];
        for (j, y) in y.iter_mut().enumerate().take(QK) {
            *y = d * (nibble(qs, j) as i8 - 8) as f32;
        }
    }

    /// quantize_row_q4_0_ref, bit-exact with gguf-py.
    fn quantize(x: &[f32], b: &mut [u8]) {
        let (_, max) = signed_absmax(x);
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, layout::D, d);
        let q = |v: f32| ((v * id + 8.5) as i8).clamp(0, 15) as u8;
        for (j, out) in b[layout::QS].iter_mut().enumerate() {
            *out = q(x[j]) | (q(x[j + QK / 2]) << 4);
        }
    }
}

/// The scalar row dot against Q8_0 activations, as ggml_vec_dot_q4_0_q8_0.
fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    use super::q8_0::layout::{D as AD, QS as AQS, SIZE as ASIZE};
    use layout::*;
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
