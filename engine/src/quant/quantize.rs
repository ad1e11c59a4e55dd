//! f32 to block formats. Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 follow ggml's `quantize_row_*_ref`
//! (Q8_0 and Q4_0 are checked bit-exact with gguf-py's `gguf.quants.quantize`); Q8_1 and Q8_K
//! follow `quantize_row_q8_1_ref` and `quantize_row_q8_K_ref` for activations; Q2_K..Q6_K
//! follow ggml's reference K-quant quantizers, the ones its quantization error thresholds were
//! measured on.

use half::f16;

use super::layout::{self, QK, QK_K};
use super::QuantError;
use crate::format::gguf::GgmlType;

/// ggml's nearest_int: round half to even through the 1.5 * 2^23 trick (|x| <= 2^22).
#[inline(always)]
pub fn nearest_int(x: f32) -> i32 {
    let v = x + 12582912.0;
    (v.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

fn put_f16(b: &mut [u8], range: std::ops::Range<usize>, v: f32) {
    b[range].copy_from_slice(&f16::from_f32(v).to_le_bytes());
}

/// Quantizes `x` into `out` as type `ty`.
pub fn quantize(ty: GgmlType, x: &[f32], out: &mut [u8]) -> Result<(), QuantError> {
    use GgmlType as T;
    let f: fn(&[f32], &mut [u8]) = match ty {
        T::F32 => |x, b| b.copy_from_slice(&x[0].to_le_bytes()),
        T::F16 => |x, b| b.copy_from_slice(&f16::from_f32(x[0]).to_le_bytes()),
        T::BF16 => |x, b| b.copy_from_slice(&bf16_bits(x[0]).to_le_bytes()),
        T::Q4_0 => q4_0,
        T::Q4_1 => q4_1,
        T::Q5_0 => q5_0,
        T::Q5_1 => q5_1,
        T::Q8_0 => q8_0,
        T::Q8_1 => q8_1,
        T::Q2_K => q2_k,
        T::Q3_K => q3_k,
        T::Q4_K => q4_k,
        T::Q5_K => q5_k,
        T::Q6_K => q6_k,
        T::Q8_K => q8_k,
        _ => return Err(QuantError::Unsupported { ty, op: "quantize" }),
    };
    let (bs, ts) = (ty.block_size() as usize, ty.type_size() as usize);
    if !x.len().is_multiple_of(bs) {
        return Err(QuantError::RaggedValues {
            ty,
            len: x.len(),
            block_size: bs as u64,
        });
    }
    let expected = x.len() / bs * ts;
    if out.len() != expected {
        return Err(QuantError::Length {
            what: "quantize output bytes",
            expected,
            got: out.len(),
        });
    }
    for (x, b) in x.chunks_exact(bs).zip(out.chunks_exact_mut(ts)) {
        f(x, b);
    }
    Ok(())
}

/// ggml_compute_fp32_to_bf16: NaN made quiet, otherwise round to nearest even.
fn bf16_bits(x: f32) -> u16 {
    let n = x.to_bits();
    if n & 0x7fff_ffff > 0x7f80_0000 {
        return ((n >> 16) | 64) as u16;
    }
    ((u64::from(n) + (0x7fff + u64::from((n >> 16) & 1))) >> 16) as u16
}

/// The element of largest magnitude, the first one on ties (numpy argmax, ggml's `>` scan).
fn signed_absmax(x: &[f32]) -> (f32, f32) {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    (amax, max)
}

fn q8_0(x: &[f32], b: &mut [u8]) {
    let (amax, _) = signed_absmax(x);
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, layout::q8_0::D, d);
    for (q, &v) in b[layout::q8_0::QS].iter_mut().zip(x) {
        // roundf: half away from zero, as gguf-py's np_roundf.
        *q = (v * id).round() as i8 as u8;
    }
}

fn q4_0(x: &[f32], b: &mut [u8]) {
    let (_, max) = signed_absmax(x);
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, layout::q4_0::D, d);
    let q = |v: f32| ((v * id + 8.5) as i8).clamp(0, 15) as u8;
    for (j, out) in b[layout::q4_0::QS].iter_mut().enumerate() {
        *out = q(x[j]) | (q(x[j + QK / 2]) << 4);
    }
}

/// Q8_0 and Q8_1 activation blocks as llama.cpp's x86 CPU backend quantizes them at run time
/// (`quantize_row_q8_0` / `_q8_1` in ggml-cpu/arch/x86/quants.c), which is not ggml's `_ref`
/// quantizer above: the multiplier is 127 / amax rather than 1 / (amax / 127), and rounding goes
/// to nearest even. The two disagree in about one block in 2000, and a flipped activation moves
/// an output by a whole quantization step, so matching llama.cpp means matching this one.
pub(crate) fn q8_x86(x: &[f32], b: &mut [u8], with_sum: bool) {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let (d_at, qs) = if with_sum {
        (layout::q8_1::D, layout::q8_1::QS)
    } else {
        (layout::q8_0::D, layout::q8_0::QS)
    };
    put_f16(b, d_at, d);
    let mut sum = 0i32;
    for (q, &v) in b[qs].iter_mut().zip(x) {
        let v = (v * id).round_ties_even() as i8;
        *q = v as u8;
        sum += i32::from(v);
    }
    if with_sum {
        put_f16(b, layout::q8_1::S, d * sum as f32);
    }
}

/// quantize_row_q8_1_ref: Q8_0's quants and scale, plus s = d * sum(qs) in f32 before the f16.
fn q8_1(x: &[f32], b: &mut [u8]) {
    use layout::q8_1::*;
    let (amax, _) = signed_absmax(x);
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, D, d);
    let mut sum = 0i32;
    for (q, &v) in b[QS].iter_mut().zip(x) {
        let v = (v * id).round() as i8;
        *q = v as u8;
        sum += i32::from(v);
    }
    put_f16(b, S, sum as f32 * d);
}

/// The smallest and largest element, scanned as ggml does from FLT_MAX and -FLT_MAX.
fn min_max(x: &[f32]) -> (f32, f32) {
    x.iter().fold((f32::MAX, -f32::MAX), |(min, max), &v| {
        (if v < min { v } else { min }, if v > max { v } else { max })
    })
}

fn q4_1(x: &[f32], b: &mut [u8]) {
    use layout::q4_1::*;
    let (min, max) = min_max(x);
    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, D, d);
    put_f16(b, M, min);
    let q = |v: f32| (((v - min) * id + 0.5) as i8).min(15) as u8;
    for (j, out) in b[QS].iter_mut().enumerate() {
        *out = q(x[j]) | (q(x[j + QK / 2]) << 4);
    }
}

/// 32 five-bit levels as Q5_0/Q5_1 store them: bit 4 of level j as bit j of the little-endian qh
/// word (masked, as ggml does), the low bits as Q4_0's nibbles.
fn pack_5bit(levels: &[u8; QK]) -> (u32, [u8; QK / 2]) {
    let qh = (0..QK).fold(0u32, |h, j| h | (u32::from((levels[j] >> 4) & 1) << j));
    let qs = std::array::from_fn(|j| (levels[j] & 0xF) | ((levels[j + QK / 2] & 0xF) << 4));
    (qh, qs)
}

fn q5_0(x: &[f32], b: &mut [u8]) {
    use layout::q5_0::*;
    let (_, max) = signed_absmax(x);
    let d = max / -16.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, D, d);
    let (qh, qs) = pack_5bit(&std::array::from_fn(|j| {
        ((x[j] * id + 16.5) as i8).min(31) as u8
    }));
    b[QH].copy_from_slice(&qh.to_le_bytes());
    b[QS].copy_from_slice(&qs);
}

fn q5_1(x: &[f32], b: &mut [u8]) {
    use layout::q5_1::*;
    let (min, max) = min_max(x);
    let d = (max - min) / 31.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, D, d);
    put_f16(b, M, min);
    // ggml casts to uint8_t with no clamp: (x - min) / d is at most 31 plus rounding error.
    let (qh, qs) = pack_5bit(&std::array::from_fn(|j| ((x[j] - min) * id + 0.5) as u8));
    b[QH].copy_from_slice(&qh.to_le_bytes());
    b[QS].copy_from_slice(&qs);
}

fn q8_k(x: &[f32], b: &mut [u8]) {
    use layout::q8_k::*;
    b.fill(0);
    let (amax, max) = signed_absmax(x);
    if amax == 0.0 {
        return;
    }
    let iscale = -127.0 / max;
    let mut q = [0i8; QK_K];
    for (q, &v) in q.iter_mut().zip(x) {
        *q = nearest_int(iscale * v).min(127) as i8;
    }
    b[QS].iter_mut().zip(&q).for_each(|(o, &v)| *o = v as u8);
    for (j, sum) in b[BSUMS].chunks_exact_mut(2).enumerate() {
        let s: i16 = q[16 * j..16 * j + 16].iter().map(|&v| i16::from(v)).sum();
        sum.copy_from_slice(&s.to_le_bytes());
    }
    b[D].copy_from_slice(&(1.0 / iscale).to_le_bytes());
}

/// ggml's make_qkx2_quants: an asymmetric (scale, min) fit of `x` to 0..=nmax, refined over
/// `nstep` candidate scales by weighted error. Returns (scale, -min) and the levels in `l`.
#[allow(clippy::too_many_arguments)]
fn make_qkx2_quants(
    nmax: i32,
    x: &[f32],
    w: &[f32],
    l: &mut [u8],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
    use_mad: bool,
) -> (f32, f32) {
    let n = x.len();
    let (mut min, mut max) = (x[0], x[0]);
    let (mut sum_w, mut sum_x) = (w[0], w[0] * x[0]);
    for i in 1..n {
        min = min.min(x[i]);
        max = max.max(x[i]);
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l.fill(0);
        return (0.0, -min);
    }
    let err = |d: f32| if use_mad { d.abs() } else { d * d };
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best = 0.0;
    for i in 0..n {
        l[i] = nearest_int(iscale * (x[i] - min)).clamp(0, nmax) as u8;
        best += w[i] * err(scale * l[i] as f32 + min - x[i]);
    }
    let mut aux = [0u8; 32];
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..n {
            let li = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            aux[i] = li as u8;
            let lf = li as f32;
            sum_l += w[i] * lf;
            sum_l2 += w[i] * lf * lf;
            sum_xl += w[i] * lf * x[i];
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let cur: f32 = (0..n)
                .map(|i| w[i] * err(this_scale * aux[i] as f32 + this_min - x[i]))
                .sum();
            if cur < best {
                l[..n].copy_from_slice(&aux[..n]);
                best = cur;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml's make_qx_quants with rmse_type 1 and no weights: a symmetric fit to -nmax..nmax-1,
/// refined over 18 candidate scales. Levels are stored offset by nmax.
fn make_qx_quants(nmax: i32, x: &[f32], l: &mut [i8]) -> f32 {
    let (amax, max) = signed_absmax(x);
    if amax < GROUP_MAX_EPS {
        l.fill(0);
        return 0.0;
    }
    let level = |iscale: f32, v: f32| nearest_int(iscale * v).clamp(-nmax, nmax - 1);
    let fit = |iscale: f32| {
        let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
        for &v in x {
            let li = level(iscale, v) as f32;
            let w = v * v;
            sumlx += w * v * li;
            suml2 += w * li * li;
        }
        (sumlx, suml2)
    };
    let mut iscale = -(nmax as f32) / max;
    for (o, &v) in l.iter_mut().zip(x) {
        *o = (level(iscale, v) + nmax) as i8;
    }
    let (sumlx, suml2) = fit(iscale);
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        let (sumlx, suml2) = fit(iscale);
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (o, &v) in l.iter_mut().zip(x) {
                *o = (level(iscale, v) + nmax) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// ggml's make_q3_quants with do_rmse: a symmetric fit to -nmax..nmax-1 refined by coordinate
/// descent on x^2-weighted error. Levels are stored offset by nmax.
fn make_q3_quants(nmax: i32, x: &[f32], l: &mut [i8]) -> f32 {
    let (amax, max) = signed_absmax(x);
    if amax < GROUP_MAX_EPS {
        l.fill(0);
        return 0.0;
    }
    let iscale = -(nmax as f32) / max;
    let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
    for (o, &v) in l.iter_mut().zip(x) {
        let li = nearest_int(iscale * v).clamp(-nmax, nmax - 1);
        *o = li as i8;
        let w = v * v;
        sumlx += w * v * li as f32;
        suml2 += w * li as f32 * li as f32;
    }
    for _ in 0..5 {
        let mut changed = 0;
        for (i, &v) in x.iter().enumerate() {
            let w = v * v;
            let li = l[i] as f32;
            let mut slx = sumlx - w * v * li;
            if slx > 0.0 {
                let mut sl2 = suml2 - w * li * li;
                let new_l = nearest_int(v * sl2 / slx).clamp(-nmax, nmax - 1);
                if new_l != l[i] as i32 {
                    slx += w * v * new_l as f32;
                    sl2 += w * new_l as f32 * new_l as f32;
                    if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        l[i] = new_l as i8;
                        sumlx = slx;
                        suml2 = sl2;
                        changed += 1;
                    }
                }
            }
        }
        if changed == 0 {
            break;
        }
    }
    for o in l.iter_mut() {
        *o += nmax as i8;
    }
    if suml2 > 0.0 {
        sumlx / suml2
    } else {
        0.0
    }
}

/// Packs 2-bit levels: qs[32h + l] holds levels 128h + l + 32s at bits 2s.
fn pack_2bit(levels: &[u8], qs: &mut [u8]) {
    for h in 0..2 {
        for l in 0..32 {
            let at = |s: usize| levels[128 * h + l + 32 * s] << (2 * s);
            qs[32 * h + l] = at(0) | at(1) | at(2) | at(3);
        }
    }
}

fn q2_k(x: &[f32], b: &mut [u8]) {
    use layout::q2_k::*;
    let mut levels = [0u8; QK_K];
    let (mut scales, mut mins) = ([0f32; 16], [0f32; 16]);
    for j in 0..16 {
        let xs = &x[16 * j..16 * j + 16];
        let w: Vec<f32> = xs.iter().map(|v| v.abs()).collect();
        (scales[j], mins[j]) = make_qkx2_quants(
            3,
            xs,
            &w,
            &mut levels[16 * j..16 * j + 16],
            -0.5,
            0.1,
            15,
            true,
        );
    }
    let max_scale = scales
        .iter()
        .fold(0.0f32, |a, &s| if s > a { s } else { a });
    let max_min = mins.iter().fold(0.0f32, |a, &s| if s > a { s } else { a });
    let sc = &mut [0u8; 16];
    if max_scale > 0.0 {
        let iscale = 15.0 / max_scale;
        for j in 0..16 {
            sc[j] = nearest_int(iscale * scales[j]) as u8;
        }
    }
    put_f16(
        b,
        D,
        if max_scale > 0.0 {
            max_scale / 15.0
        } else {
            0.0
        },
    );
    if max_min > 0.0 {
        let iscale = 15.0 / max_min;
        for j in 0..16 {
            sc[j] |= (nearest_int(iscale * mins[j]) << 4) as u8;
        }
    }
    put_f16(b, DMIN, if max_min > 0.0 { max_min / 15.0 } else { 0.0 });
    let (d, dmin) = (layout::f16_at(b, D), layout::f16_at(b, DMIN));
    for j in 0..16 {
        let dl = d * (sc[j] & 0xF) as f32;
        if dl == 0.0 {
            continue;
        }
        let dm = dmin * (sc[j] >> 4) as f32;
        for i in 0..16 {
            levels[16 * j + i] = nearest_int((x[16 * j + i] + dm) / dl).clamp(0, 3) as u8;
        }
    }
    b[SCALES].copy_from_slice(sc);
    pack_2bit(&levels, &mut b[QS]);
}

fn q3_k(x: &[f32], b: &mut [u8]) {
    use layout::q3_k::*;
    b.fill(0);
    let mut levels = [0i8; QK_K];
    let mut scales = [0f32; 16];
    for j in 0..16 {
        scales[j] = make_q3_quants(4, &x[16 * j..16 * j + 16], &mut levels[16 * j..16 * j + 16]);
    }
    let (_, max_scale) = signed_absmax(&scales);
    if max_scale != 0.0 {
        let iscale = -32.0 / max_scale;
        let s = &mut b[SCALES];
        for (j, &scale) in scales.iter().enumerate() {
            let l = (nearest_int(iscale * scale) as i8).clamp(-32, 31) + 32;
            let l = l as u8;
            if j < 8 {
                s[j] = l & 0xF;
            } else {
                s[j - 8] |= (l & 0xF) << 4;
            }
            s[j % 4 + 8] |= (l >> 4) << (2 * (j / 4));
        }
        put_f16(b, D, 1.0 / iscale);
    }
    let d = layout::f16_at(b, D);
    for j in 0..16 {
        let dl = d * layout::scale_q3_k(j, &b[SCALES]) as f32;
        if dl == 0.0 {
            continue;
        }
        for i in 0..16 {
            levels[16 * j + i] = nearest_int(x[16 * j + i] / dl).clamp(-4, 3) as i8 + 4;
        }
    }
    let mut low = [0u8; QK_K];
    for (i, &l) in levels.iter().enumerate() {
        let mut l = l as u8;
        if l > 3 {
            b[HMASK.start + i % 32] |= 1 << (i / 32);
            l -= 4;
        }
        low[i] = l;
    }
    pack_2bit(&low, &mut b[QS]);
}

/// Shared by Q4_K and Q5_K: 8 sub-blocks of 32 fitted with make_qkx2_quants, 6-bit scales and
/// mins packed as get_scale_min_k4 reads them. Returns the levels (0..=nmax).
fn kx_scales(x: &[f32], b: &mut [u8], nmax: i32, rmin: f32, nstep: i32) -> [u8; QK_K] {
    use layout::q4_k::{D, DMIN, SCALES};
    let mut levels = [0u8; QK_K];
    let (mut scales, mut mins) = ([0f32; 8], [0f32; 8]);
    for j in 0..8 {
        let xs = &x[32 * j..32 * j + 32];
        let av_x = (xs.iter().map(|v| v * v).sum::<f32>() / 32.0).sqrt();
        let w: Vec<f32> = xs.iter().map(|v| av_x + v.abs()).collect();
        (scales[j], mins[j]) = make_qkx2_quants(
            nmax,
            xs,
            &w,
            &mut levels[32 * j..32 * j + 32],
            rmin,
            0.1,
            nstep,
            false,
        );
    }
    let max_scale = scales
        .iter()
        .fold(0.0f32, |a, &s| if s > a { s } else { a });
    let max_min = mins.iter().fold(0.0f32, |a, &s| if s > a { s } else { a });
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let s = &mut b[SCALES];
    s.fill(0);
    for j in 0..8 {
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            s[j] = ls;
            s[j + 4] = lm;
        } else {
            s[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            s[j - 4] |= (ls >> 4) << 6;
            s[j] |= (lm >> 4) << 6;
        }
    }
    put_f16(b, D, max_scale / 63.0);
    put_f16(b, DMIN, max_min / 63.0);
    let (d, dmin) = (layout::f16_at(b, D), layout::f16_at(b, DMIN));
    let swap = usize::from(crate::faults::is(
        crate::faults::Fault::SwapSubblockScaleIndex,
    ));
    for j in 0..8 {
        let (sc, m) = layout::scale_min_k4(j ^ swap, &b[SCALES]);
        let dl = d * sc as f32;
        if dl == 0.0 {
            continue;
        }
        let dm = dmin * m as f32;
        for i in 0..32 {
            levels[32 * j + i] = nearest_int((x[32 * j + i] + dm) / dl).clamp(0, nmax) as u8;
        }
    }
    levels
}

fn q4_k(x: &[f32], b: &mut [u8]) {
    let levels = kx_scales(x, b, 15, -1.0, 20);
    let qs = &mut b[layout::q4_k::QS];
    for c in 0..4 {
        for l in 0..32 {
            qs[32 * c + l] = levels[64 * c + l] | (levels[64 * c + 32 + l] << 4);
        }
    }
}

fn q5_k(x: &[f32], b: &mut [u8]) {
    use layout::q5_k::{QH, QS};
    let levels = kx_scales(x, b, 31, -0.5, 15);
    b[QH].fill(0);
    for c in 0..4 {
        for l in 0..32 {
            let (lo, hi) = (levels[64 * c + l], levels[64 * c + 32 + l]);
            b[QS.start + 32 * c + l] = (lo & 0xF) | ((hi & 0xF) << 4);
            b[QH.start + l] |= ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1));
        }
    }
}

fn q6_k(x: &[f32], b: &mut [u8]) {
    use layout::q6_k::*;
    b.fill(0);
    let mut levels = [0i8; QK_K];
    let mut scales = [0f32; 16];
    for j in 0..16 {
        scales[j] = make_qx_quants(
            32,
            &x[16 * j..16 * j + 16],
            &mut levels[16 * j..16 * j + 16],
        );
    }
    let (max_abs, max_scale) = signed_absmax(&scales);
    if max_abs < GROUP_MAX_EPS {
        return;
    }
    let iscale = -128.0 / max_scale;
    put_f16(b, D, 1.0 / iscale);
    for j in 0..16 {
        b[SCALES.start + j] = nearest_int(iscale * scales[j]).min(127) as i8 as u8;
    }
    let d = layout::f16_at(b, D);
    for j in 0..16 {
        let dl = d * b[SCALES.start + j] as i8 as f32;
        if dl == 0.0 {
            continue;
        }
        for i in 0..16 {
            levels[16 * j + i] = nearest_int(x[16 * j + i] / dl).clamp(-32, 31) as i8 + 32;
        }
    }
    for h in 0..2 {
        for l in 0..32 {
            let q = |s: usize| levels[128 * h + 32 * s + l] as u8;
            b[QL.start + 64 * h + l] = (q(0) & 0xF) | ((q(2) & 0xF) << 4);
            b[QL.start + 64 * h + 32 + l] = (q(1) & 0xF) | ((q(3) & 0xF) << 4);
            b[QH.start + 32 * h + l] =
                (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
        }
    }
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
        q8_x86(&x, &mut ours, false);
        assert_eq!(&i8s(&ours[2..6]), &[127, 2, -4, 0]);
        let mut reference = vec![0u8; 34];
        q8_0(&x, &mut reference);
        assert_eq!(&i8s(&reference[2..6]), &[127, 3, -4, 0]);
        // Q8_1 carries s = d * sum(qs): here d = 1, sum = 127 + 2 - 4.
        let mut with_sum = vec![0u8; 36];
        q8_x86(&x, &mut with_sum, true);
        assert_eq!(&with_sum[4..36], &ours[2..34]);
        let s = half::f16::from_le_bytes([with_sum[2], with_sum[3]]).to_f32();
        assert_eq!(s, 125.0);
        // All zeros stay zeros, with d = 0.
        let mut z = vec![1u8; 34];
        q8_x86(&[0.0; 32], &mut z, false);
        assert!(z.iter().all(|&b| b == 0));
    }
}
