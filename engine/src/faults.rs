//! Deliberate faults for the oracle's falsification runs: each contract must fail with its fault
//! injected. Injection exists only with the `faults` feature; without it `is` is a constant
//! false and the hooks compile away.

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

/// The uncleared-buffer fault: adds the previous call's logits into these, then keeps these.
pub(crate) fn leak_previous(out: &mut [f32]) {
    #[cfg(feature = "faults")]
    if is(Fault::UnclearedOutputBuffer) {
        let mut prev = active::PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
        for (o, p) in out.iter_mut().zip(prev.iter()) {
            *o += p;
        }
        *prev = out.to_vec();
    }
    #[cfg(not(feature = "faults"))]
    let _ = out;
}
