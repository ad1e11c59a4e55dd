//! The WGSL compute kernels of the forward pass, as source text.
//!
//! Weights stay in their GGUF block layout on the device (each type's file in
//! engine/src/quant/types/ is the one place its offsets are defined; the functions here read the
//! same offsets) and are dequantized
//! element by element as a kernel reads them. Every computation is f32: f16 scales are widened
//! with `unpack2x16float`, so no kernel needs the shader-f16 feature that lavapipe and many
//! other adapters lack. Sums run in a fixed order (one partial per thread, then a tree), so a
//! kernel gives the same bits on every run.

use crate::format::gguf::GgmlType;

/// Threads per workgroup of every kernel: lavapipe runs subgroups of 8, real GPUs 32 or 64;
/// 64 is a whole number of both.
pub const WG: u32 = 64;

/// Every kernel reads its parameters from one uniform block of 16 words (`P.a.x` ..), written
/// per dispatch; floats travel as their bits.
const PARAMS: &str = r#"
struct Params { a: vec4<u32>, b: vec4<u32>, c: vec4<u32>, d: vec4<u32> }
@group(0) @binding(0) var<uniform> P: Params;
// x, through a select the compiler cannot resolve (P.d.w is never set): a product passed
// through it is rounded on its own instead of fused into the next addition as an FMA, as the
// CPU's Rust rounds it (SPIR-V lets drivers contract a*b + c unless told otherwise).
fn opaque(x: f32) -> f32 { return select(x, 0.0, P.d.w == 0xffffffffu); }
"#;

/// Byte, signed byte and f16 reads from a weight buffer `W` of u32 words (little-endian). Block
/// sizes such as Q8_0's 34 bytes put fields at any byte offset; f16 fields always sit at even
/// offsets.
const BYTES: &str = r#"
fn byte_at(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
fn i8_at(o: u32) -> i32 { return (i32(byte_at(o)) << 24u) >> 24u; }
fn u16_at(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu; }
fn f16_at(o: u32) -> f32 { return unpack2x16float(u16_at(o)).x; }
fn u32_at(o: u32) -> u32 { return u16_at(o) | (u16_at(o + 2u) << 16u); }
"#;

/// `deq(row, i)`: element `i` of the row whose bytes start at `row`, as the type's file in
/// engine/src/quant/types/ dequantizes it (the same f32 operations in the same order). None for a
/// type the GPU backend does not read; loading a model that has one is an error naming it.
fn deq(ty: GgmlType) -> Option<String> {
    use GgmlType as T;
    Some(String::from(match ty {
        T::F32 => "fn deq(row: u32, i: u32) -> f32 { return bitcast<f32>(W[(row >> 2u) + i]); }",
        T::F16 => "fn deq(row: u32, i: u32) -> f32 { return f16_at(row + 2u * i); }",
        T::BF16 => {
            "fn deq(row: u32, i: u32) -> f32 { return bitcast<f32>(u16_at(row + 2u * i) << 16u); }"
        }
        T::Q8_0 => {
            r#"fn deq(row: u32, i: u32) -> f32 {
    let b = row + (i / 32u) * 34u;
    return f32(i8_at(b + 2u + i % 32u)) * f16_at(b);
}"#
        }
        T::Q4_0 => return Some(legacy_deq(18, 2, None, 8, false)),
        T::Q4_1 => return Some(legacy_deq(20, 4, None, 0, true)),
        T::Q5_0 => return Some(legacy_deq(22, 6, Some(2), 16, false)),
        T::Q5_1 => return Some(legacy_deq(24, 8, Some(4), 0, true)),
        T::Q4_K => {
            r#"fn deq(row: u32, i: u32) -> f32 {
    let b = row + (i / 256u) * 144u;
    let j = i % 256u;
    let g = j / 32u;
    let sm = scale_min_k4(g, b + 4u);
    let dl = f16_at(b) * f32(sm.x);
    let ml = f16_at(b + 2u) * f32(sm.y);
    let q = (byte_at(b + 16u + 32u * (g / 2u) + j % 32u) >> (4u * (g % 2u))) & 0xfu;
    return opaque(dl * f32(q)) - ml;
}"#
        }
        T::Q5_K => {
            r#"fn deq(row: u32, i: u32) -> f32 {
    let b = row + (i / 256u) * 176u;
    let j = i % 256u;
    let g = j / 32u;
    let l = j % 32u;
    let sm = scale_min_k4(g, b + 4u);
    let dl = f16_at(b) * f32(sm.x);
    let ml = f16_at(b + 2u) * f32(sm.y);
    let q = ((byte_at(b + 48u + 32u * (g / 2u) + l) >> (4u * (g % 2u))) & 0xfu)
        | (((byte_at(b + 16u + l) >> g) & 1u) << 4u);
    return opaque(dl * f32(q)) - ml;
}"#
        }
        T::Q6_K => {
            r#"fn deq(row: u32, i: u32) -> f32 {
    let b = row + (i / 256u) * 210u;
    let j = i % 256u;
    let h = j / 128u;
    let s = (j / 32u) % 4u;
    let l = j % 32u;
    let low = (byte_at(b + 64u * h + 32u * (s % 2u) + l) >> (4u * (s / 2u))) & 0xfu;
    let high = (byte_at(b + 128u + 32u * h + l) >> (2u * s)) & 3u;
    let q = i32(low | (high << 4u)) - 32;
    let dl = f16_at(b + 208u) * f32(i8_at(b + 192u + j / 16u));
    return dl * f32(q);
}"#
        }
        _ => return None,
    }))
}

/// `deq` of a legacy block (Q4_0, Q4_1, Q5_0, Q5_1) of `size` bytes, laid out as `legacy_bdot`
/// reads it: `d * (q - offset)`, or with a min `d * q + m`.
fn legacy_deq(size: u32, qs: u32, qh: Option<u32>, offset: i32, min: bool) -> String {
    let fifth = qh.map_or(String::new(), |at| {
        format!("\n        | (((u32_at(b + {at}u) >> j) & 1u) << 4u)")
    });
    let finish = if min {
        "opaque(f16_at(b) * f32(q)) + f16_at(b + 2u)".to_string()
    } else {
        format!("f16_at(b) * f32(i32(q) - {offset})")
    };
    format!(
        r#"fn deq(row: u32, i: u32) -> f32 {{
    let b = row + (i / 32u) * {size}u;
    let j = i % 32u;
    let q = ((byte_at(b + {qs}u + j % 16u) >> (4u * (j / 16u))) & 0xfu){fifth};
    return {finish};
}}"#
    )
}

/// `bdot(row, blk, xo, ab)`: block `blk` of the row at byte `row` against the quantized
/// activations from `A[xo]` (integer quants as f32) with scale `AD[2 ab]` (and Q8_1's stored sum
/// `AD[2 ab + 1]`), as the type's scalar dot in engine/src/quant/types/ computes a block: an
/// exact integer sum, then the same few f32 operations in the same order.
fn bdot(ty: GgmlType) -> Option<String> {
    use GgmlType as T;
    Some(String::from(match ty {
        T::Q8_0 => {
            r#"fn bdot(row: u32, blk: u32, xo: u32, ab: u32) -> f32 {
    let b = row + blk * 34u;
    var sumi = 0;
    for (var j = 0u; j < 32u; j++) { sumi += i8_at(b + 2u + j) * i32(A[xo + j]); }
    return f32(sumi) * (f16_at(b) * AD[2u * ab]);
}"#
        }
        // ggml's legacy 32-element blocks: 16 bytes of nibble pairs (elements j and j + 16),
        // Q5's fifth bits in a u32, levels offset by 8 or 16 unless the block has a min.
        T::Q4_0 => return Some(legacy_bdot(18, 2, None, 8, false)),
        T::Q4_1 => return Some(legacy_bdot(20, 4, None, 0, true)),
        T::Q5_0 => return Some(legacy_bdot(22, 6, Some(2), 16, false)),
        T::Q5_1 => return Some(legacy_bdot(24, 8, Some(4), 0, true)),
        T::Q4_K | T::Q5_K => {
            if ty == T::Q4_K {
                r#"fn level(b: u32, g: u32, l: u32) -> i32 {
    return i32((byte_at(b + 16u + 32u * (g / 2u) + l) >> (4u * (g % 2u))) & 0xfu);
}
const KSIZE: u32 = 144u;
fn bdot(row: u32, blk: u32, xo: u32, ab: u32) -> f32 { return kx_bdot(row + blk * KSIZE, xo, ab); }"#
            } else {
                r#"fn level(b: u32, g: u32, l: u32) -> i32 {
    let low = (byte_at(b + 48u + 32u * (g / 2u) + l) >> (4u * (g % 2u))) & 0xfu;
    return i32(low | (((byte_at(b + 16u + l) >> g) & 1u) << 4u));
}
const KSIZE: u32 = 176u;
fn bdot(row: u32, blk: u32, xo: u32, ab: u32) -> f32 { return kx_bdot(row + blk * KSIZE, xo, ab); }"#
            }
        }
        T::Q6_K => {
            r#"fn bdot(row: u32, blk: u32, xo: u32, ab: u32) -> f32 {
    let b = row + blk * 210u;
    var isum = 0;
    for (var sub = 0u; sub < 16u; sub++) {
        var dot = 0;
        for (var i = 16u * sub; i < 16u * sub + 16u; i++) {
            let h = i / 128u;
            let s = (i / 32u) % 4u;
            let l = i % 32u;
            let low = (byte_at(b + 64u * h + 32u * (s % 2u) + l) >> (4u * (s / 2u))) & 0xfu;
            let high = (byte_at(b + 128u + 32u * h + l) >> (2u * s)) & 3u;
            dot += (i32(low | (high << 4u)) - 32) * i32(A[xo + i]);
        }
        isum += i8_at(b + 192u + sub) * dot;
    }
    return f16_at(b + 208u) * AD[2u * ab] * f32(isum);
}"#
        }
        _ => return None,
    }))
}

/// `bdot` of a legacy block (Q4_0, Q4_1, Q5_0, Q5_1) of `size` bytes: the nibbles at byte `qs`,
/// the fifth bits as a u32 at byte `qh` (Q5), each level less `offset`; then `d * sumi` against
/// Q8_0 activations, or with a min `d * d_x * sumi + m * s_x` against Q8_1's stored sum.
fn legacy_bdot(size: u32, qs: u32, qh: Option<u32>, offset: i32, min: bool) -> String {
    let (qh_word, fifth0, fifth1) = match qh {
        Some(at) => (
            format!("let qh = u32_at(b + {at}u);"),
            " | (((qh >> j) << 4u) & 0x10u)",
            " | ((qh >> (j + 12u)) & 0x10u)",
        ),
        None => (String::new(), "", ""),
    };
    let finish = if min {
        "opaque(f16_at(b) * AD[2u * ab] * f32(sumi)) + opaque(f16_at(b + 2u) * AD[2u * ab + 1u])"
    } else {
        "f32(sumi) * (f16_at(b) * AD[2u * ab])"
    };
    format!(
        r#"fn bdot(row: u32, blk: u32, xo: u32, ab: u32) -> f32 {{
    let b = row + blk * {size}u;
    {qh_word}
    var sumi = 0;
    for (var j = 0u; j < 16u; j++) {{
        let q = byte_at(b + {qs}u + j);
        let x0 = i32((q & 0xfu){fifth0}) - {offset};
        let x1 = i32((q >> 4u){fifth1}) - {offset};
        sumi += x0 * i32(A[xo + j]) + x1 * i32(A[xo + j + 16u]);
    }}
    return {finish};
}}"#
    )
}

/// Q4_K and Q5_K against Q8_K (kx_row in quant/types/q4_k.rs): per sub-block the scale times the
/// integer dot, the min times the activations' sum, then d and dmin.
const KX_BDOT: &str = r#"
fn kx_bdot(b: u32, xo: u32, ab: u32) -> f32 {
    var isum = 0;
    var msum = 0;
    for (var g = 0u; g < 8u; g++) {
        let sm = scale_min_k4(g, b + 4u);
        var dot = 0;
        var asum = 0;
        for (var l = 0u; l < 32u; l++) {
            let a = i32(A[xo + 32u * g + l]);
            dot += level(b, g, l) * a;
            asum += a;
        }
        isum += i32(sm.x) * dot;
        msum += i32(sm.y) * asum;
    }
    let da = AD[2u * ab];
    return opaque(f16_at(b) * da * f32(isum)) - opaque(f16_at(b + 2u) * da * f32(msum));
}
"#;

/// ggml's get_scale_min_k4: the 6-bit scale and min of sub-block `j` of the 12 scale bytes at
/// byte offset `q`.
const SCALE_MIN_K4: &str = r#"
fn scale_min_k4(j: u32, q: u32) -> vec2<u32> {
    if (j < 4u) {
        return vec2<u32>(byte_at(q + j) & 63u, byte_at(q + j + 4u) & 63u);
    }
    return vec2<u32>(
        (byte_at(q + j + 4u) & 0xfu) | ((byte_at(q + j - 4u) >> 6u) << 4u),
        (byte_at(q + j + 4u) >> 4u) | ((byte_at(q + j) >> 6u) << 4u));
}
"#;

/// Whether the GPU kernels read weights of this type.
pub fn supports(ty: GgmlType) -> bool {
    deq(ty).is_some()
}

fn weight_prelude(ty: GgmlType) -> Option<String> {
    Some(format!("{PARAMS}{BYTES}{SCALE_MIN_K4}{}\n", deq(ty)?))
}

/// `Y[t, r] = sum_i W[r, i] * X[t, i] (+ B[r])`: one workgroup per output row and token; its
/// threads take every 64th item of the row (an element of a float matrix, a block of a
/// quantized one against the activations QUANT_ACT quantized), then add their partial sums as
/// a tree. P.a = (rows, cols, row bytes, items read per row), P.b = (bias?, rows per grid line,
/// elements per block). The items read are all of the row's but for the GPU-skips-last-tile
/// fault.
pub fn matmul(ty: GgmlType) -> Option<String> {
    let (bindings, item) = match bdot(ty) {
        None => (
            "@group(0) @binding(2) var<storage, read> X: array<f32>;\n",
            "deq(base, i) * X[t * cols + i]",
        ),
        Some(_) => (
            "@group(0) @binding(2) var<storage, read> A: array<f32>;\n\
             @group(0) @binding(5) var<storage, read> AD: array<f32>;\n",
            "bdot(base, i, t * cols + i * P.b.z, t * (cols / P.b.z) + i)",
        ),
    };
    let extra = match ty {
        GgmlType::Q4_K | GgmlType::Q5_K => KX_BDOT,
        _ => "",
    };
    // A quantized row's blocks are added in order by one thread, as the CPU's scalar kernel
    // adds them (rows of up to 1024 blocks; longer ones by the tree): a different order moves
    // activations by an ulp, enough to round one of them differently in the next quantization.
    let (in_order, slots) = match bdot(ty) {
        None => ("0", "1"),
        Some(_) => ("1024", "1024"),
    };
    let body = MATMUL_MAIN
        .replace("IN_ORDER", in_order)
        .replace("SLOTS", slots);
    Some(format!(
        "{}{}{}\n{}{MATMUL_HEAD}{}",
        weight_prelude(ty)?,
        bindings,
        bdot(ty).unwrap_or_default(),
        extra,
        body.replace("ITEM", item)
    ))
}

const MATMUL_HEAD: &str = r#"
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> B: array<f32>;
var<workgroup> part: array<f32, 64>;
"#;

/// The matmul's `main`: each thread takes every 64th item of the row; rows of up to IN_ORDER
/// items keep each item's value in workgroup memory for one thread to add in order, longer ones
/// (every row where IN_ORDER is 0) add per-thread partial sums as a tree.
const MATMUL_MAIN: &str = r#"
var<workgroup> vals: array<f32, SLOTS>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let rows = P.a.x;
    let cols = P.a.y;
    let r = wg.y * P.b.y + wg.x;
    let t = wg.z;
    let n = P.a.w;
    let in_order = n <= IN_ORDERu;
    var acc = 0.0;
    if (r < rows) {
        let base = r * P.a.z;
        for (var i = lid; i < n; i += 64u) {
            let v = ITEM;
            if (in_order) { vals[i] = v; } else { acc += v; }
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    if (in_order) {
        if (lid == 0u) {
            var sum = 0.0;
            for (var i = 0u; i < n; i++) { sum += vals[i]; }
            part[0] = sum;
        }
    } else {
        for (var s = 32u; s > 0u; s >>= 1u) {
            if (lid < s) { part[lid] += part[lid + s]; }
            workgroupBarrier();
        }
    }
    workgroupBarrier();
    if (lid == 0u && r < rows) {
        var y = part[0];
        if (P.b.x != 0u) { y += B[r]; }
        Y[t * rows + r] = y;
    }
}
"#;

/// The embedding rows of the call's tokens, times the model's embedding scale (Gemma's
/// sqrt(hidden); 1, an exact product, elsewhere): `Y[t, i] = W[TOK[t], i] * scale`, one f32
/// product as the CPU scales the dequantized row. P.a = (cols, row bytes, tokens, scale bits).
pub fn get_rows(ty: GgmlType) -> Option<String> {
    Some(
        weight_prelude(ty)?
            + r#"
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> TOK: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let cols = P.a.x;
    let i = id.x;
    let t = id.y;
    if (i < cols && t < P.a.z) {
        Y[t * cols + i] = deq(TOK[t] * P.a.y, i) * bitcast<f32>(P.a.w);
    }
}
"#,
    )
}

/// RoPE in place on `[tokens, heads, head_dim]` rows, one thread per rotated pair, with the
/// host's table of cos (then sin) per token and pair, so the angles are the CPU's to the bit.
/// P.a = (tokens, heads, head_dim, pairs), P.b.x = 0 adjacent pairs (2i, 2i+1), 1 NeoX (i, i + d/2).
pub const ROPE: &str = r#"
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> CS: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = P.a.x;
    let heads = P.a.y;
    let hd = P.a.z;
    let half = P.a.w;
    let idx = id.y * 65535u * 64u + id.x;
    if (idx >= n * heads * half) { return; }
    let i = idx % half;
    let head = (idx / half) % heads;
    let t = idx / (half * heads);
    let base = (t * heads + head) * hd;
    var a = base + 2u * i;
    var b = a + 1u;
    if (P.b.x == 1u) {
        a = base + i;
        b = base + i + half;
    }
    let c = CS[t * half + i];
    let s = CS[n * half + t * half + i];
    let x0 = X[a];
    let x1 = X[b];
    X[a] = opaque(x0 * c) - opaque(x1 * s);
    X[b] = opaque(x0 * s) + opaque(x1 * c);
}
"#;

/// Causal GQA attention for the call's query rows over one layer's KV cache: one workgroup per
/// (query head, token). Scores go to a scratch row, then the max, the exponentials and their
/// sum, then each thread sums `p * V` for its dimensions in position order, as the CPU does.
/// A sliding-window layer (Mistral, Gemma) sees only the last `window` positions (masked when
/// p - t >= window, HF's and llama.cpp's rule); Gemma 2 soft-caps each scaled score,
/// `cap * tanh(s / cap)`, before the softmax.
/// P.a = (start, head_dim, heads, kv_dim), P.b = (group, scratch row length, window or 0, scale
/// bits), P.c = (soft-cap bits or 0).
/// The exponentials are summed in f64 where the adapter has it, as the CPU's softmax sums them:
/// a reciprocal of the sum off by an ulp moves every output of the head.
pub fn attention(f64: bool) -> String {
    let (ty, zero) = if f64 {
        ("f64", "f64(0.0)")
    } else {
        ("f32", "0.0")
    };
    format!(
        "{PARAMS}{}var<workgroup> psum: array<{ty}, 64>;\n{}",
        cpu_math(f64),
        ATTENTION.replace("SUM_TYPE", ty).replace("SUM_ZERO", zero)
    )
}

const ATTENTION: &str = r#"
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read_write> S: array<f32>;
@group(0) @binding(5) var<storage, read_write> O: array<f32>;
var<workgroup> part: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let start = P.a.x;
    let hd = P.a.y;
    let heads = P.a.z;
    let kvd = P.a.w;
    let scale = bitcast<f32>(P.b.w);
    let head = wg.x;
    let t = wg.y;
    let len = start + t + 1u;
    var first = 0u;
    if (P.b.z != 0u && len > P.b.z) { first = len - P.b.z; }
    let cap = bitcast<f32>(P.c.x);
    let qo = (t * heads + head) * hd;
    let ko = (head / P.b.x) * hd;
    let so = (t * heads + head) * P.b.y;
    var m = -3.40282347e38;
    for (var p = first + lid; p < len; p += 64u) {
        var s = 0.0;
        for (var d = 0u; d < hd; d++) {
            s += opaque(Q[qo + d] * K[p * kvd + ko + d]);
        }
        s *= scale;
        if (P.c.x != 0u) { s = cap * tanh_cpu(div(s, cap)); }
        S[so + p] = s;
        m = max(m, s);
    }
    part[lid] = m;
    workgroupBarrier();
    for (var w = 32u; w > 0u; w >>= 1u) {
        if (lid < w) { part[lid] = max(part[lid], part[lid + w]); }
        workgroupBarrier();
    }
    let mx = part[0];
    workgroupBarrier();
    var sum = SUM_ZERO;
    for (var p = first + lid; p < len; p += 64u) {
        let e = exp_cpu(S[so + p] - mx);
        S[so + p] = e;
        sum += SUM_TYPE(e);
    }
    psum[lid] = sum;
    workgroupBarrier();
    for (var w = 32u; w > 0u; w >>= 1u) {
        if (lid < w) { psum[lid] += psum[lid + w]; }
        workgroupBarrier();
    }
    let inv = f32(SUM_TYPE(1.0) / psum[0]);
    storageBarrier();
    workgroupBarrier();
    for (var d = lid; d < hd; d += 64u) {
        var acc = 0.0;
        for (var p = first; p < len; p++) {
            acc += opaque((S[so + p] * inv) * V[p * kvd + ko + d]);
        }
        O[qo + d] = acc;
    }
}
"#;

/// The gated FFN in place: `G = act(G) * U`. P.a.x = elements, P.a.y = the activation: 0 SiLU
/// (SwiGLU), 1 GELU by its tanh approximation (GeGLU, HF's gelu_pytorch_tanh), 2 that GELU as
/// llama.cpp's CPU backend tabulates it for quantized files (input and result rounded to f16;
/// 0 below -10, the identity above 10). Each is engine/src/ops.rs's `Activation::apply`, the
/// same f32 operations in the same order, products before an addition kept unfused.
pub fn glu(f64: bool) -> String {
    format!("{PARAMS}{F16_ROUND}{}{GLU}", cpu_math(f64))
}

const GLU: &str = r#"
@group(0) @binding(1) var<storage, read_write> G: array<f32>;
@group(0) @binding(2) var<storage, read> U: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978846;
const GELU_A: f32 = 0.044715;

fn act(x: f32) -> f32 {
    switch P.a.y {
        case 1u: {
            return 0.5 * x * (1.0 + tanh_cpu(SQRT_2_OVER_PI * (x + opaque(GELU_A * x * x * x))));
        }
        case 2u: {
            if (x <= -10.0) { return 0.0; }
            if (x >= 10.0) { return x; }
            let h = f16_round(x);
            let y = 0.5 * h * (1.0 + tanh_cpu(SQRT_2_OVER_PI * h * (1.0 + opaque(GELU_A * h * h))));
            return f16_round(y);
        }
        default: { return div(x, 1.0 + exp_cpu(-x)); }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i < P.a.x) {
        G[i] = act(G[i]) * U[i];
    }
}
"#;

/// Soft-capping in place, `X = cap * tanh(X / cap)`: Gemma's final logits, with the CPU's
/// division and tanh (`cpu_math`). P.a = (elements, cap bits).
pub fn softcap(f64: bool) -> String {
    format!("{PARAMS}{}{SOFTCAP}", cpu_math(f64))
}

const SOFTCAP: &str = r#"
@group(0) @binding(1) var<storage, read_write> X: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i < P.a.x) {
        let cap = bitcast<f32>(P.a.y);
        X[i] = cap * tanh_cpu(div(X[i], cap));
    }
}
"#;

/// The residual: `X += Y`. P.a.x = elements.
pub const ADD: &str = r#"
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i < P.a.x) {
        X[i] = X[i] + Y[i];
    }
}
"#;

/// A kernel without weights: the uniform block, then its own source.
pub fn plain(body: &str) -> String {
    format!("{PARAMS}{body}")
}

/// f32 to the nearest f16 (ties to even), as a float: half's from_f32 on the CPU (for values
/// within f16's range: activation scales, GELU's table inputs and results).
const F16_ROUND: &str = r#"
fn f16_round(x: f32) -> f32 {
    let a = abs(x);
    if (a < 6.103515625e-05) {
        // f16 subnormals are multiples of 2^-24.
        return round(x * 16777216.0) / 16777216.0;
    }
    let b = bitcast<u32>(x);
    let r = (b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u;
    return bitcast<f32>(r);
}
"#;

/// Activations quantized, one thread per block, exactly as the CPU kernels quantize them before
/// their integer dot products (quantize_activations in engine/src/quant/matmul.rs): the quants (as
/// f32) to `Q`, the block's scale and, for Q8_1, its stored sum to `QD`. Without this, GPU and CPU
/// logits of a quantized file would differ by the activations' quantization error (about 2%
/// relative L2 on the tiny models). P.a = (blocks, block size, kind): kind 0 is Q8_0/Q8_1 by
/// llama.cpp's x86 rule (d = amax/127 stored as f16, q = round-half-even(x * 127/amax)); 1 is Q8_K
/// (ggml's reference: the signed element of largest magnitude, first on ties, iscale = -127/max,
/// q = min(round(iscale x), 127), d = 1/iscale in f32).
const QUANT_ACT: &str = r#"
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Q: array<f32>;
@group(0) @binding(3) var<storage, read_write> QD: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let blk = id.y * 65535u * 64u + id.x;
    if (blk >= P.a.x) { return; }
    let bs = P.a.y;
    let o = blk * bs;
    if (P.a.z == 0u) {
        var amax = 0.0;
        for (var i = 0u; i < bs; i++) { amax = max(amax, abs(X[o + i])); }
        let d = div(amax, 127.0);
        var inv = 0.0;
        if (amax != 0.0) { inv = div(127.0, amax); }
        var sum = 0.0;
        for (var i = 0u; i < bs; i++) {
            let q = round(X[o + i] * inv);
            Q[o + i] = q;
            sum += q;
        }
        QD[2u * blk] = f16_round(d);
        QD[2u * blk + 1u] = f16_round(d * sum);
        return;
    }
    var amax = 0.0;
    var mx = 0.0;
    for (var i = 0u; i < bs; i++) {
        let v = X[o + i];
        if (abs(v) > amax) { amax = abs(v); mx = v; }
    }
    if (amax == 0.0) {
        for (var i = 0u; i < bs; i++) { Q[o + i] = 0.0; }
        QD[2u * blk] = 0.0;
        return;
    }
    let iscale = div(-127.0, mx);
    for (var i = 0u; i < bs; i++) { Q[o + i] = min(round(iscale * X[o + i]), 127.0); }
    QD[2u * blk] = div(1.0, iscale);
}
"#;

/// QUANT_ACT with its divisions rounded as IEEE divides (see `cpu_math`).
pub fn quant_act(f64: bool) -> String {
    format!("{PARAMS}{F16_ROUND}{}{QUANT_ACT}", cpu_math(f64))
}

/// `div(a, b)` and `exp_cpu(x)`: f32 division and exp with the CPU's results, where the adapter
/// has f64. Vulkan lets a driver's f32 division be 2.5 ulp off and its exp 3 + 2|x| ulp (an
/// activation an ulp off rounds to the other integer in the next quantization now and then,
/// and moves every later position of a quantized model by 1-2%): a quotient of f32s rounded
/// from f64 is the correctly rounded f32, and `exp_cpu` is glibc's expf (the CPU's f32::exp on
/// Linux; ARM's optimized-routines algorithm): x * 32/ln2 = k + r, 2^(k/32) from a table of 32,
/// a cubic in r, all in f64 and rounded once to f32 (the same bits on 3 million random inputs
/// in [-100, 100]). Without f64, the driver's own.
fn cpu_math(f64: bool) -> String {
    let own = if f64 {
        EXP_F64
    } else {
        "fn div(a: f32, b: f32) -> f32 { return a / b; }\n\
         fn exp_cpu(x: f32) -> f32 { return exp(x); }\n"
    };
    format!("{own}{TANH}")
}

/// `tanh_cpu(x)`: tanhf as glibc 2.36 computes it (fdlibm's, through its expm1f), the CPU's
/// f32::tanh, which GELU and the soft-caps use: llama.cpp's f16 GELU table rounds a result an
/// ulp off to the other f16 now and then, and moves a quantized activation. Every step is one
/// f32 operation kept apart by `opaque` (no fused multiply-add, no algebraic folding of
/// `(hi - x) - lo`), divisions through `div`; the same bits as the CPU on 3 million random
/// inputs (and the test below).
const TANH: &str = r#"
fn fbits(b: u32) -> f32 { return bitcast<f32>(b); }
fn expm1_cpu(x0: f32) -> f32 {
    var x = x0;
    let neg = (bitcast<u32>(x) & 0x80000000u) != 0u;
    let hx = bitcast<u32>(x) & 0x7fffffffu;
    let ln2_hi = fbits(0x3f317180u);
    let ln2_lo = fbits(0x3717f7d1u);
    if (hx >= 0x4195b844u) {
        if (hx >= 0x42b17218u) { return select(exp(x), -1.0, neg); }
        if (neg) { return -1.0; }
    }
    var k = 0;
    var c = 0.0;
    if (hx > 0x3eb17218u) {
        var hi: f32;
        var lo: f32;
        if (hx < 0x3f851592u) {
            if (!neg) { hi = opaque(x - ln2_hi); lo = ln2_lo; k = 1; }
            else { hi = opaque(x + ln2_hi); lo = -ln2_lo; k = -1; }
        } else {
            k = i32(opaque(opaque(fbits(0x3fb8aa3bu) * x) + select(0.5, -0.5, neg)));
            let t = f32(k);
            hi = opaque(x - opaque(t * ln2_hi));
            lo = opaque(t * ln2_lo);
        }
        x = opaque(hi - lo);
        c = opaque(opaque(hi - x) - lo);
    } else if (hx < 0x33000000u) {
        return x;
    }
    let hfx = opaque(0.5 * x);
    let hxs = opaque(x * hfx);
    var r1 = opaque(hxs * fbits(0xb457edbbu)) + fbits(0x36867e54u);
    r1 = opaque(hxs * r1) + fbits(0xb8a670cdu);
    r1 = opaque(hxs * r1) + fbits(0x3ad00d01u);
    r1 = opaque(hxs * r1) + fbits(0xbd088889u);
    r1 = opaque(1.0 + opaque(hxs * r1));
    let t = opaque(3.0 - opaque(r1 * hfx));
    var e = opaque(hxs * div(opaque(r1 - t), opaque(6.0 - opaque(x * t))));
    if (k == 0) { return x - opaque(opaque(x * e) - hxs); }
    e = opaque(opaque(x * opaque(e - c)) - c);
    e = opaque(e - hxs);
    if (k == -1) { return opaque(0.5 * opaque(x - e)) - 0.5; }
    if (k == 1) {
        if (x < -0.25) { return -2.0 * opaque(e - opaque(x + 0.5)); }
        return 1.0 + opaque(2.0 * opaque(x - e));
    }
    if (k <= -2 || k > 56) {
        let y = opaque(1.0 - opaque(e - x));
        return opaque(bitcast<f32>(bitcast<i32>(y) + (k << 23u))) - 1.0;
    }
    if (k < 23) {
        let t1 = bitcast<f32>(0x3f800000 - (0x1000000 >> u32(k)));
        let y = opaque(t1 - opaque(e - x));
        return bitcast<f32>(bitcast<i32>(y) + (k << 23u));
    }
    let t2 = bitcast<f32>((0x7f - k) << 23u);
    let y = opaque(opaque(x - opaque(e + t2)) + 1.0);
    return bitcast<f32>(bitcast<i32>(y) + (k << 23u));
}
fn tanh_cpu(x: f32) -> f32 {
    let ix = bitcast<u32>(x) & 0x7fffffffu;
    if (ix >= 0x7f800000u) { return select(tanh(x), x, x != x); }
    var z = 1.0;
    if (ix < 0x41b00000u) {
        if (ix == 0u) { return x; }
        if (ix < 0x24000000u) { return x * opaque(1.0 + x); }
        if (ix >= 0x3f800000u) {
            let t = expm1_cpu(opaque(2.0 * abs(x)));
            z = 1.0 - div(2.0, opaque(t + 2.0));
        } else {
            let t = expm1_cpu(opaque(-2.0 * abs(x)));
            z = div(-t, opaque(t + 2.0));
        }
    }
    return select(-z, z, x >= 0.0);
}
"#;

/// A kernel of `cpu_math` alone, for its test: `Y[i] = exp_cpu(X[i])`, `Z[i] = silu(X[i])`,
/// `T[i] = tanh_cpu(X[i] * P.a.y)`.
#[cfg(test)]
pub fn cpu_math_probe(f64: bool) -> String {
    format!(
        "{PARAMS}{}{}",
        cpu_math(f64),
        r#"
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read_write> Z: array<f32>;
@group(0) @binding(4) var<storage, read_write> T: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i < P.a.x) {
        Y[i] = exp_cpu(X[i]);
        T[i] = tanh_cpu(X[i] * bitcast<f32>(P.a.y));
        Z[i] = div(X[i], 1.0 + exp_cpu(-X[i]));
    }
}
"#
    )
}

const EXP_F64: &str = r#"
fn div(a: f32, b: f32) -> f32 { return f32(f64(a) / f64(b)); }
// 2^(j/32), j = 0..31, as f64.
var<private> EXP2_TAB: array<f64, 32> = array<f64, 32>(
    1.0lf, 1.0218971486541166lf, 1.0442737824274138lf, 1.0671404006768237lf,
    1.0905077326652577lf, 1.1143867425958924lf, 1.1387886347566916lf, 1.1637248587775775lf,
    1.189207115002721lf, 1.215247359980469lf, 1.241857812073484lf, 1.2690509571917332lf,
    1.2968395546510096lf, 1.3252366431597413lf, 1.3542555469368927lf, 1.383909881963832lf,
    1.4142135623730951lf, 1.4451808069770467lf, 1.4768261459394993lf, 1.5091644275934228lf,
    1.5422108254079407lf, 1.5759808451078865lf, 1.6104903319492543lf, 1.645755478153965lf,
    1.681792830507429lf, 1.718619298122478lf, 1.7562521603732995lf, 1.7947090750031072lf,
    1.8340080864093424lf, 1.8741676341103lf, 1.9152065613971474lf, 1.9571441241754002lf,
);
// opaque() for f64: keeps a product from being fused into the next addition.
fn opaque64(x: f64) -> f64 { return select(x, f64(0.0), P.d.w == 0xffffffffu); }
// 2^k for k within f32's normal range.
fn pow2(k: i32) -> f64 { return f64(bitcast<f32>(u32(k + 127) << 23u)); }
fn exp_cpu(x: f32) -> f32 {
    if (x != x || x > 88.72283) { return exp(x); }
    if (x < -103.97208) { return 0.0; }
    let z = opaque64(46.16624130844683lf * f64(x));
    // z to the nearest integer, ties to even (glibc adds and takes away 1.5 * 2^52, which the
    // driver's optimizer folds away).
    let kd = round(z);
    let r = z - kd;
    let ki = i32(kd);
    let k = ki >> 5u;
    let s = EXP2_TAB[ki & 31] * pow2(k / 2) * pow2(k - k / 2);
    let c = opaque64(0.0000016938359250920212lf * r) + 0.00023459809789509004lf;
    let y = opaque64(0.021660849396613134lf * r) + 1.0lf;
    return f32((opaque64(c * (r * r)) + y) * s);
}
"#;

/// How the CPU quantizes the activations a weight type meets (None: float weights meet f32
/// activations): (block size, QUANT_ACT kind).
pub fn activation_quant(ty: GgmlType) -> Option<(u32, u32)> {
    use GgmlType as T;
    match ty {
        T::Q8_0 | T::Q4_0 | T::Q5_0 | T::Q4_1 | T::Q5_1 => Some((32, 0)),
        T::Q4_K | T::Q5_K | T::Q6_K => Some((256, 1)),
        _ => None,
    }
}

/// RMSNorm of every row, `Y = X / sqrt(mean(X^2) + eps) * N`, one workgroup per row, as the
/// CPU computes it (engine/src/ops.rs) where the adapter has 64-bit floats (lavapipe, most
/// desktop GPUs; not Metal): the mean square summed in f64 and the scale taken in f64, then
/// rounded to f32. Activations that agree with the CPU's to the bit quantize to the same
/// integers; an f32 mean square (the fallback without f64) puts an element on the other side of
/// a rounding boundary now and then, which moves a tiny model's logits by about 1%.
/// P.a = (cols, rows, rows per grid line, eps as f32), P.b.x = eps - f32(eps) as f32 (adding it
/// in f32 leaves eps as f32).
pub fn rms_norm(f64: bool) -> String {
    let acc = if f64 { "f64" } else { "f32" };
    format!("{PARAMS}{}", RMS_NORM.replace("ACC", acc))
}

const RMS_NORM: &str = r#"
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> N: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
var<workgroup> part: array<ACC, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let cols = P.a.x;
    let row = wg.y * P.a.z + wg.x;
    if (row >= P.a.y) { return; }
    let o = row * cols;
    var acc = ACC(0.0);
    for (var i = lid; i < cols; i += 64u) {
        let v = ACC(X[o + i]);
        acc += v * v;
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (lid < s) { part[lid] += part[lid + s]; }
        workgroupBarrier();
    }
    let eps = ACC(bitcast<f32>(P.a.w)) + ACC(bitcast<f32>(P.b.x));
    let scale = f32(ACC(1.0) / sqrt(part[0] / ACC(cols) + eps));
    for (var i = lid; i < cols; i += 64u) {
        Y[o + i] = X[o + i] * scale * N[i];
    }
}
"#;
