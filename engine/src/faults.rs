//! Deliberate faults for the oracle's falsification runs: each contract must fail with its fault
//! injected. Injection exists only with the `faults` feature; without it `is` is a constant
//! false and the hooks compile away. Each hook is one call at its site; what a fault does beyond
//! a yes or no lives here, so the engine's code reads as it runs without faults.

use crate::ops::RopeStyle;
use crate::quant::{GgmlType, QMatrix, QuantError};

/// Every fault a hook in the engine can inject (named in snake_case in the oracle's contracts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// F32 square matrices are read column-major.
    TransposeWeight,
    /// RoPE pairs dimensions by the other convention.
    SwapRope,
    /// Q4_K dequantization scales the second sub-block of every block by 1.5.
    CorruptSubblockScale,
    /// Single-token decode rotates Q one position too far.
    ShiftKvPosition,
    /// The first layer's output is scaled by 1.02 (in a one-layer model the final RMSNorm
    /// undoes a uniform scale, so only the trace can see it there).
    ScaleLayerOutput,
    /// Logits keep a trace of the previous call: the buffer is not cleared.
    UnclearedOutputBuffer,
    /// The SentencePiece encoder forgets the space it prefixes to the text.
    DropSpacePrefix,
    /// The GGUF reader stops checking that tensor data lies inside the file.
    AcceptOutOfBounds,
    /// Model loading stops accounting for every tensor and metadata key: what it does not
    /// understand is ignored.
    IgnoreUnknownInput,
    /// Llama 3's RoPE frequency factors (`rope_freqs.weight`) are dropped.
    DropRopeFreqs,
    /// Qwen3's per-head Q/K RMSNorm is skipped.
    SkipQkNorm,
    /// The sliding window lets one position too many through.
    WindowOffByOne,
    /// `Logits::Last` takes the first position of the call instead of the last.
    LastIsFirst,
    /// The K-quant quantizers requantize each sub-block with its neighbour's scale (a scale
    /// index off by one bit): invisible on data whose sub-block scales are all alike.
    SwapSubblockScaleIndex,
    /// Streaming detokenization emits every token's bytes at once: a character split across
    /// tokens comes out as replacement characters.
    StreamWithoutHoldback,
    /// The Llama 3-style split puts every digit in a word of its own, as Qwen2's does, for every
    /// vocabulary (Llama 3 groups them by three).
    SingleDigitGroups,
    /// A fused Q/K/V matrix (Phi-3's attn_qkv) is split at the wrong offsets: K and V trade
    /// places.
    MisplitFusedQkv,
    /// Softmax exponentiates without subtracting the maximum first: fine for small scores,
    /// infinite for the large ones of tiny-loud.
    SoftmaxWithoutMax,
    /// The repetition penalty divides negative logits too (the rule as first published, which
    /// makes a repeated token with a negative logit more likely; llama.cpp multiplies those).
    PenaltyDividesNegative,
    /// Top-p stops one token short: the token whose probability carries the sum to p is dropped.
    TopPOneShort,
    /// LongRoPE's short or long factors are picked by the highest position of each call (HF's
    /// rule) instead of the KV cache's capacity (llama.cpp's): a prefill within the original
    /// context rotates with the short factors in a cache meant for longer sequences.
    LongRopeByPosition,
    /// YaRN's attention factor is forgotten: cos and sin are not scaled by 1 + 0.1 ln(factor).
    DropYarnMscale,
    /// Gemma's soft-caps of attention scores and logits are forgotten.
    ForgetSoftcap,
    /// Gemma's norms after attention and the FFN are skipped.
    SkipPostNorm,
    /// A quantized Gemma file's GELU is computed exactly instead of as llama.cpp's f16 table,
    /// its reference, computes it.
    ExactGelu,
    /// Q8_0/Q8_1 activations are quantized by ggml's reference rule (1 / d, ties away from zero)
    /// instead of llama.cpp's x86 run-time rule: about one block in 2000 differs.
    ReferenceActivationRounding,
    /// Bias vectors (Qwen2's Q/K/V biases) are not added.
    DropBias,
    /// Attention scores are scaled by 1 / sqrt(hidden / heads) instead of 1 / sqrt(head_dim):
    /// the same where head_dim = hidden / heads, wrong where it is not (Qwen3, Gemma).
    HeadDimFromHidden,
    /// The matrix-product row split drops its last task when that task is shorter than the
    /// others: rows that do not divide evenly over the tasks come out zero.
    SplitDropsPartialTask,
    /// The AVX2 Q8_0 row kernel drops the last block of a row with an odd number of blocks
    /// (an unroll by two without its tail): a kernel other than the best one on AVX-512
    /// machines, and a shape no golden model has.
    Avx2SkipsOddBlock,
    /// Keys and values are rounded to f16 as they enter the cache (llama.cpp's default cache
    /// type, but HF float64 and llama.cpp's F32 goldens keep them exact): a small fault, just
    /// over the F32 thresholds.
    F16KvCache,
    /// One-token calls scale attention scores by the scale rounded to f16 (a decode kernel
    /// that takes it as a half): a small fault only the decode path has.
    F16DecodeScale,
    /// Kernel selection takes AVX-512 F for all of AVX-512: a CPU with F but without VNNI or BW
    /// is offered the AVX-512 kernel, which faults there with an illegal instruction.
    Avx512ChecksOnlyF,
    /// BPE merges the rightmost of several places one merge applies to first, not the leftmost
    /// ("aaa" becomes "a aa" instead of "aa a").
    BpeTiesRightmost,
    /// The small form of the uncleared buffer: only the first logit keeps the previous call's.
    LeakOneLogit,
    /// Control tokens in the text are recognised without parse_special, as only user-defined
    /// tokens are in llama.cpp.
    ControlWithoutParseSpecial,
    /// Detokenization prints a byte token's text (`<0x41>`) instead of its byte.
    BytePieceAsText,
    /// The GPU matmul's workgroups stop one pass of their 64 threads short: the last 64
    /// columns of every weight row are never read.
    GpuSkipsLastTile,
    /// Detokenization keeps the leading space of the first token, the one the SentencePiece
    /// encoder prefixed.
    KeepSpacePrefix,
    /// Llama 3-style splits match `'s|'t|'re|'ve|'m|'ll|'d` case-sensitively, as GPT-2 does,
    /// not with `(?i:...)`: "'The" stays one word instead of "'T" + "he".
    ContractionsCaseSensitive,
}

#[cfg(feature = "faults")]
mod active {
    use super::Fault;
    use std::sync::Mutex;

    static ACTIVE: Mutex<Option<Fault>> = Mutex::new(None);
    pub static PREVIOUS: Mutex<Vec<f32>> = Mutex::new(Vec::new());

    pub fn inject(f: Option<Fault>) {
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = f;
        PREVIOUS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn is(f: Fault) -> bool {
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) == Some(f)
    }
}

/// Turns a fault on (or all off with None) for every later call, process-wide.
#[cfg(feature = "faults")]
pub fn inject(fault: Option<Fault>) {
    active::inject(fault)
}

/// Whether `fault` is injected now.
#[inline]
pub fn is(fault: Fault) -> bool {
    #[cfg(feature = "faults")]
    {
        active::is(fault)
    }
    #[cfg(not(feature = "faults"))]
    {
        let _ = fault;
        false
    }
}

/// The uncleared-buffer faults: add the previous call's logits (or only its first) into
/// these, then keep these.
pub(crate) fn leak_previous(out: &mut [f32]) {
    #[cfg(feature = "faults")]
    if is(Fault::UnclearedOutputBuffer) || is(Fault::LeakOneLogit) {
        let leaked = if is(Fault::LeakOneLogit) {
            1
        } else {
            out.len()
        };
        let mut prev = active::PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
        for (o, p) in out.iter_mut().zip(prev.iter()).take(leaked) {
            *o += p;
        }
        *prev = out.to_vec();
    }
    #[cfg(not(feature = "faults"))]
    let _ = out;
}

/// The transpose-weight fault: a square F32 matrix read column-major. `Some` with the product's
/// result when the fault takes the product over.
pub(crate) fn transpose_weight(
    w: &QMatrix,
    x: &[f32],
    n: usize,
    y: &mut [f32],
) -> Option<Result<(), QuantError>> {
    if !(w.ty == GgmlType::F32 && w.rows == w.cols && is(Fault::TransposeWeight)) {
        return None;
    }
    let m = match crate::quant::dequantize_to_vec(GgmlType::F32, w.bytes()) {
        Ok(m) => m,
        Err(e) => return Some(Err(e)),
    };
    for t in 0..n {
        for i in 0..w.rows {
            y[t * w.rows + i] = (0..w.cols)
                .map(|j| m[j * w.cols + i] * x[t * w.cols + j])
                .sum();
        }
    }
    Some(Ok(()))
}

/// The split-drops-partial-task fault: whether a matmul task skips its rows, given whether it is
/// the short last one.
pub(crate) fn split_drops_partial_task(partial: bool) -> bool {
    partial && is(Fault::SplitDropsPartialTask)
}

/// The avx512-checks-only-F fault: the features an AVX-512 kernel (`avx512`) is checked for,
/// cut to AVX-512 F alone from `needs`.
pub(crate) fn avx512_checks_only_f(
    avx512: bool,
    needs: &'static [&'static str],
) -> &'static [&'static str] {
    if avx512 && is(Fault::Avx512ChecksOnlyF) {
        let f = needs.iter().position(|f| *f == "avx512f").unwrap_or(0);
        &needs[f..f + 1]
    } else {
        needs
    }
}

/// The avx2-skips-odd-block fault: how many of a row's `blocks` the AVX2 Q8_0 row reads (the
/// last one dropped from an odd count).
pub(crate) fn avx2_blocks(blocks: usize) -> usize {
    blocks - usize::from(blocks % 2 == 1 && is(Fault::Avx2SkipsOddBlock))
}

/// The corrupt-subblock-scale fault: Q4_K values dequantized into `out` get the second sub-block
/// of every block scaled by 1.5.
pub(crate) fn corrupt_subblock_scale(ty: GgmlType, out: &mut [f32]) {
    if ty == GgmlType::Q4_K && is(Fault::CorruptSubblockScale) {
        for y in out.chunks_exact_mut(crate::quant::QK_K) {
            y[32..64].iter_mut().for_each(|v| *v *= 1.5);
        }
    }
}

/// The swap-subblock-scale-index fault: what a K-quant quantizer XORs its sub-block index with
/// to pick the scale it requantizes by (1: the neighbour's; 0 without the fault).
pub(crate) fn swap_subblock_scale_index() -> usize {
    usize::from(is(Fault::SwapSubblockScaleIndex))
}

/// The shift-kv-position fault: the positions a single-token decode (`n` tokens from `start`)
/// rotates Q by, one too far, when the fault takes them over.
pub(crate) fn shifted_q_positions(start: usize, n: usize) -> Option<std::ops::Range<usize>> {
    (n == 1 && is(Fault::ShiftKvPosition)).then(|| start + 1..start + 2)
}

/// The swap-rope fault: the RoPE pairing the forward pass uses, the other convention than the
/// model's `style` when the fault is on.
pub(crate) fn rope_style(style: RopeStyle) -> RopeStyle {
    match (is(Fault::SwapRope), style) {
        (false, style) => style,
        (true, RopeStyle::Adjacent) => RopeStyle::NeoX,
        (true, RopeStyle::NeoX) => RopeStyle::Adjacent,
    }
}

/// The scale-layer-output fault: layer 0's output rows `x` scaled by 1.02.
pub(crate) fn scale_layer_output(layer: usize, x: &mut [f32]) {
    if layer == 0 && is(Fault::ScaleLayerOutput) {
        x.iter_mut().for_each(|v| *v *= 1.02);
    }
}

/// The f16-kv-cache fault: one position's keys and values, just stored, rounded to f16.
pub(crate) fn round_kv_to_f16(k: &mut [f32], v: &mut [f32]) {
    if is(Fault::F16KvCache) {
        for x in k.iter_mut().chain(v.iter_mut()) {
            *x = half::f16::from_f32(*x).to_f32();
        }
    }
}

/// The misplit-fused-qkv fault: a fused matrix split into Q, K and V (`parts`) gets K and V in
/// each other's places.
pub(crate) fn misplit_fused_qkv<T>(parts: &mut [T]) {
    if is(Fault::MisplitFusedQkv) && parts.len() == 3 {
        parts.swap(1, 2);
    }
}

/// The GPU-skips-last-tile fault: how many of a weight row's `items` (elements of a float
/// matrix, blocks of a quantized one) a GPU matmul workgroup reads; the last tile (32 elements,
/// or the last block) dropped.
#[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
pub(crate) fn gpu_row_items(items: usize, quantized: bool) -> usize {
    match (is(Fault::GpuSkipsLastTile), quantized) {
        (false, _) => items,
        (true, false) => items.saturating_sub(32),
        (true, true) => items.saturating_sub(1),
    }
}

/// The single-digit-groups fault: the most digits the Llama 3-style split keeps in one word
/// (`max_digits`, or 1 under the fault).
pub(crate) fn digit_group(max_digits: usize) -> usize {
    if is(Fault::SingleDigitGroups) {
        1
    } else {
        max_digits
    }
}

/// The bpe-ties-rightmost fault: the order of two places one merge applies to (`left`, the
/// leftmost first), reversed under the fault.
pub(crate) fn bpe_tie(left: std::cmp::Ordering) -> std::cmp::Ordering {
    if is(Fault::BpeTiesRightmost) {
        left.reverse()
    } else {
        left
    }
}

/// The top-p-one-short fault: how many tokens top-p keeps of the `keep` that carry the sum to p
/// (one fewer, but at least one, under the fault).
pub(crate) fn top_p_keep(keep: usize) -> usize {
    if is(Fault::TopPOneShort) {
        (keep - 1).max(1)
    } else {
        keep
    }
}
