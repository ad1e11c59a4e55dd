# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "pip==26.3",
#     "cmake==4.4.5",
#     "ninja==1.13.2",
#     "numpy==2.2.6",
#     "torch==2.11.0",
#     "transformers==4.57.6",
#     "tokenizers==0.22.1",
#     "sentencepiece==0.2.1",
#     "protobuf==4.25.9",
#     "safetensors==0.8.0",
#     "pyyaml==6.0.3",
#     "tqdm==4.67.1",
#     "requests==2.32.5",
# ]
# [tool.uv]
# exclude-newer = "2026-11-25T00:00:00Z"
# ///
"""Reference models and their goldens: a locally trained tokenizer, tiny random models in HF
format (Llama, Llama 3.1 RoPE scaling, Qwen2, Qwen3, Mistral, Phi-3, Gemma 2, Gemma 3), their
GGUF conversions and
quantizations by llama.cpp, and what HF transformers (float64) and llama.cpp compute on them.

    uv run golden/scripts/models.py
    uv run golden/scripts/models.py new NAME --hf DIR [--quant Q8_0,Q4_K_M] [--prompt TEXT |
        --tokens IDS] [--dtype f64|f32] [--out golden/local]

Writes golden/tokenizer/spm/ and golden/models/<model>/, each with a manifest.json, plus
golden/models/AGREEMENT.md (reference-vs-reference figures). `new` makes the same kind of set
for a user's own HF checkpoint (`oracle golden new` runs it): both go through build_set. The converter, llama-quantize,
llama-tokenize and our llama-logits come from the llama.cpp that the pinned llama-cpp-python sdist
vendors (see llamacpp.py); the build is cached in golden/.cache. The versions of convert_hf_to_gguf's
own requirements (torch, transformers, numpy, sentencepiece, protobuf) are the ones it pins.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import io
import json
import os
import platform
import re
import shlex
import shutil
import struct
import sys
import time
from dataclasses import MISSING, dataclass, fields
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp import (  # noqa: E402
    LLAMA_CPP_PYTHON, ROOT, build_logits_tool, build_tools, fetch_source, llama_commit, run, sha256,
)

SEED = 20261126
VOCAB = 384
GOLDEN = ROOT / "golden"
MODELS = GOLDEN / "models"
SPM_DIR = GOLDEN / "tokenizer" / "spm"
BPE_DIR = GOLDEN / "tokenizer" / "bpe"
BPE_VOCAB = 512
COMMAND = "uv run golden/scripts/models.py"
THREADS = 2
STARTED = time.time()

# (label, llama-quantize type, --pure). Q8_0 and Q6_K files hold a single type without --pure
# (checked below), so they need no pure variant.
QUANTS = {
    "F16": ("F16", False),
    "Q8_0": ("Q8_0", False),
    "Q4_0": ("Q4_0", False),
    "Q4_K_M": ("Q4_K_M", False),
    "Q5_K_M": ("Q5_K_M", False),
    "Q6_K": ("Q6_K", False),
    "Q4_0-pure": ("Q4_0", True),
    "Q4_K-pure": ("Q4_K_M", True),
    "Q5_K-pure": ("Q5_K_M", True),
}
SINGLE_TYPE = {"Q8_0": "Q8_0", "Q6_K": "Q6_K", "Q4_0-pure": "Q4_0", "Q4_K-pure": "Q4_K",
               "Q5_K-pure": "Q5_K"}


@dataclass(frozen=True)
class Spec:
    name: str
    purpose: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    tied: bool
    ctx: int
    rope_theta: float
    eps: float
    hf_dtype: str  # how the HF checkpoint is stored; the f32 GGUF is converted from it exactly
    n_tokens: int
    quants: tuple[str, ...]
    op_trace: bool  # per-op HF intermediates and the llama.cpp eval-callback trace
    # Later families. The manifest's config lists these only where they differ from the default,
    # so the Llama sets above keep their manifests.
    family: str = "llama"  # HF class: FAMILIES[family]
    head_dim: int | None = None  # None: hidden / heads
    rope_scaling: dict | None = None  # HF config's rope_scaling
    qkv_bias: bool = False  # Q/K/V projections with biases (Qwen2 always has them)
    sliding_window: int | None = None  # Mistral's and Gemma's sliding-window attention
    allow_fallback: bool = False  # rows not a multiple of 256: llama-quantize may fall back
    weight_std: float = 0.04  # standard deviation of the random projection matrices
    original_context: int | None = None  # Phi-3's original_max_position_embeddings (None: ctx)
    attn_softcap: float | None = None  # Gemma 2's attn_logit_softcapping
    final_softcap: float | None = None  # Gemma 2's final_logit_softcapping


# family: (HF config class, HF model class)
FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM"),
    "mistral": ("MistralConfig", "MistralForCausalLM"),
    "phi3": ("Phi3Config", "Phi3ForCausalLM"),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM"),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM"),
}
GEMMA = ("gemma2", "gemma3")


# For the Llama sets every row length (hidden, FFN, heads x head_dim) is a multiple of 256 so that
# no K-quant falls back to another type; tiny-qwen2 and tiny-qwen3 are the exceptions on purpose
# (allow_fallback). The full quantization matrix for the main model, one or two quantized files
# for the others. New specs go at the end: each model's weights come from SEED + 1000 * (index + 1).
SPECS = [
    Spec("tiny-gqa", "GQA (4 query heads, 2 KV heads, head_dim 64), untied, FFN 512 != hidden",
         256, 2, 4, 2, 512, False, 256, 10000.0, 1e-5, "bfloat16", 32, tuple(QUANTS), True),
    Spec("tiny-mha-tied", "MHA (2 heads, head_dim 128), tied embeddings, RMSNorm eps 1e-6, one layer",
         256, 1, 2, 2, 256, True, 256, 10000.0, 1e-6, "float16", 24, ("Q4_K_M",), True),
    Spec("tiny-long", "RoPE and the KV cache past position 256 (272 tokens; 8 heads of 32, "
         "2 KV heads, theta 500000), full-precision f32 checkpoint",
         256, 1, 8, 2, 256, False, 512, 500000.0, 1e-5, "float32", 272, ("Q8_0",), False),
    Spec("tiny-llama3", "Llama 3.1 RoPE scaling (rope_type llama3, factor 8, low/high freq "
         "factor 1/4, original context 64; the converter writes the factors as rope_freqs.weight), "
         "96 tokens so positions pass the original 64, theta 500000, GQA 4/2 heads of 64, untied",
         256, 1, 4, 2, 512, False, 512, 500000.0, 1e-5, "bfloat16", 96, ("Q8_0", "Q4_K_M"), True,
         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                       "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    Spec("tiny-qwen2", "Qwen2: Q/K/V biases (random, std 0.05), NEOX RoPE, theta 1e6, RMSNorm "
         "eps 1e-6, hidden 384 (not a multiple of 256: Q4_K_M falls back to other types for those "
         "rows), 6 heads of 64, 2 KV heads, untied",
         384, 1, 6, 2, 768, False, 256, 1000000.0, 1e-6, "bfloat16", 48, ("Q8_0", "Q4_K_M"), True,
         family="qwen2", qkv_bias=True, allow_fallback=True),
    Spec("tiny-qwen3", "Qwen3: per-head RMSNorm on Q and K (q_norm, k_norm) before RoPE, "
         "head_dim 48 set explicitly (4 x 48 = 192 != hidden 256, so Q4_K_M falls back for the "
         "o_proj rows), 2 KV heads, no biases, theta 1e6, eps 1e-6, untied",
         256, 1, 4, 2, 512, False, 256, 1000000.0, 1e-6, "bfloat16", 40, ("Q8_0", "Q4_K_M"), True,
         family="qwen3", head_dim=48, allow_fallback=True),
    Spec("tiny-mistral", "Mistral: sliding-window attention (window 16) over 40 tokens, GQA 4/2 "
         "heads of 64, one layer. HF applies the window; the pinned convert_hf_to_gguf.py maps "
         "MistralForCausalLM to the llama GGUF architecture and writes no sliding-window key, so "
         "llama.cpp attends to every past token and its logits differ from HF's from position 16 "
         "on (agreement: 'F32 vs HF f64' over all positions, and the same before the window and "
         "against HF with sliding_window=None)",
         256, 1, 4, 2, 512, False, 256, 10000.0, 1e-5, "bfloat16", 40, ("Q8_0", "Q4_K_M"), True,
         family="mistral", sliding_window=16),
    Spec("tiny-loud", "Numeric robustness: projection weights with std 0.5 (12x the others), so "
         "attention scores reach the hundreds and activations the thousands; an engine that "
         "exponentiates without subtracting the maximum, or sums squares in f16, overflows here. "
         "MHA, 4 heads of 64, one layer",
         256, 1, 4, 4, 512, False, 256, 10000.0, 1e-5, "float32", 32, ("Q8_0",), True,
         weight_std=0.5),
    Spec("tiny-phi3", "Phi-3: fused QKV (qkv_proj -> attn_qkv) and fused gate/up (gate_up_proj -> "
         "ffn_up, gate first), NEOX RoPE, GQA 4/2 heads of 64, one layer, no sliding window",
         256, 1, 4, 2, 512, False, 256, 10000.0, 1e-5, "bfloat16", 40, ("Q8_0", "Q4_K_M"), True,
         family="phi3"),
    Spec("tiny-gemma2", "Gemma 2: norms stored as offsets from 1 (the converter adds 1), pre- and "
         "post-norms around attention and the FFN, GeGLU with tanh GELU, embeddings scaled by "
         "sqrt(hidden), query_pre_attn_scalar = head_dim 48 (4 x 48 = 192 != hidden 256, so "
         "Q4_K_M falls back for those rows), attention soft-cap 5 and final soft-cap 3 (small, so "
         "both change the numbers), layer 0 sliding (window 16) and layer 1 global, 40 tokens, "
         "GQA 4/2, tied embeddings",
         256, 2, 4, 2, 512, True, 256, 10000.0, 1e-6, "bfloat16", 40, ("Q8_0", "Q4_K_M"), True,
         family="gemma2", head_dim=48, sliding_window=16, allow_fallback=True, attn_softcap=5.0,
         final_softcap=3.0),
    Spec("tiny-gemma3", "Gemma 3 (text): Q/K RMSNorm per head, the 5-local-1-global layer "
         "pattern (six layers: 0-4 sliding with window 16 and RoPE base 10000, layer 5 global with "
         "base 1e6 and linear RoPE scaling 4), post-norms, GeGLU, embeddings scaled by "
         "sqrt(hidden), 4 heads of 32 (128 != hidden 256), 2 KV heads, FFN 256, 40 tokens, tied",
         256, 6, 4, 2, 256, True, 256, 1000000.0, 1e-6, "bfloat16", 40, ("Q8_0", "Q4_K_M"), True,
         family="gemma3", head_dim=32, sliding_window=16, allow_fallback=True,
         rope_scaling={"rope_type": "linear", "factor": 4.0}),
    Spec("tiny-yarn", "Llama with YaRN RoPE scaling (factor 4, original context 64, beta_fast 32 "
         "and beta_slow 1 by default, attention factor 1 + 0.1 ln 4 on cos and sin), 96 tokens so "
         "positions pass the original 64, GQA 4/2 heads of 64, untied",
         256, 1, 4, 2, 512, False, 256, 10000.0, 1e-5, "bfloat16", 96, ("Q8_0", "Q4_K_M"), True,
         rope_scaling={"rope_type": "yarn", "factor": 4.0,
                       "original_max_position_embeddings": 64}),
    Spec("tiny-phi3-long", "Phi-3 LongRoPE (Phi-3.5 / Phi-4-mini style): short factors 1 + 0.01 i "
         "and long factors 1 + 7 (i / 31)^2 for the 32 pairs, original context 64 of 256 "
         "(attention factor sqrt(1 + ln 4 / ln 64)), 96 tokens so the long factors apply, fused "
         "QKV and gate/up, GQA 4/2 heads of 64",
         256, 1, 4, 2, 512, False, 256, 10000.0, 1e-5, "bfloat16", 96, ("Q8_0", "Q4_K_M"), True,
         family="phi3", original_context=64,
         rope_scaling={"type": "longrope",
                       "short_factor": [round(1.0 + 0.01 * i, 6) for i in range(32)],
                       "long_factor": [round(1.0 + 7.0 * (i / 31) ** 2, 6) for i in range(32)]}),
]
SPEC_DEFAULTS = {f.name: f.default for f in fields(Spec) if f.default is not MISSING}

# Strings that tokenizers disagree on: whitespace runs, leading spaces, newlines, digits, unicode,
# emoji (byte fallback), and literal special-token text.
TRICKY = [
    "", " ", "  ", "   ", "\n", "\n\n", "\t", " \n \n", "hello", " hello", "  hello", "hello ",
    "hello  world", "hello   world", "Hello World", "HELLO", "a\nb", "line one\nline two\n",
    "\ttabbed\ttext", "x = 1 + 2", "12345", "1 22 333 4444", "3.14159", "2026-11-26", "0x1F",
    "café naïve", "Zürich straße", "日本語", "中文字符", "русский текст", "emoji 🦀🎉",
    "🦀", "∑ λx → ∞", "ÿ", "\u00a0nbsp", "<s>", "</s>", "<unk>", "<s>hello</s>", "text <s> inside",
    "the end.", "It's a test, isn't it?", "((brackets)) [and] {braces}", "a" * 40,
    "the quick brown fox jumps over the lazy dog", " the  quick\n\nbrown\tfox ",
]

WORDS = (
    "the a of and to in is it that was for on are with as his they be at one have this from or had "
    "by word but what some we can out other were all there when up use your how said an each she "
    "which do their time if will way about many then them write would like so these her long make "
    "thing see him two has look more day could go come did number sound no most people my over "
    "know water than call first who may down side been now find any new work part take get place "
    "made live where after back little only round man year came show every good me give our under "
    "name very through just form sentence great think say help low line differ turn cause much "
    "mean before move right boy old too same tell does set three want air well also play small end "
    "put home read hand port large spell add even land here must big high such follow act why ask "
    "men change went light kind off need house picture try us again animal point mother world near "
    "build self earth father model token layer weight matrix vector quantize golden engine"
).split()
RARE = ["café", "naïve", "Zürich", "straße", "日本語", "中文", "русский", "🦀", "🎉", "∑", "λx", "→"]


def log(msg: str) -> None:
    print(f"[{time.time() - STARTED:6.1f}s] {msg}", flush=True)


def today() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else \
        datetime.datetime.now(datetime.timezone.utc)
    return when.date().isoformat()


def corpus(rng: np.random.Generator, lines: int) -> list[str]:
    """English-like lines from a fixed word list, with numbers, punctuation, irregular
    whitespace and a few rare words that only byte fallback can encode."""
    out = []
    for _ in range(lines):
        words = []
        for _ in range(int(rng.integers(3, 21))):
            r = rng.random()
            if r < 0.06:
                words.append(str(int(rng.integers(0, 100000))))
            elif r < 0.08:
                words.append(RARE[int(rng.integers(len(RARE)))])
            else:
                words.append(WORDS[int(rng.integers(len(WORDS)))])
        words[0] = words[0].capitalize()
        sep = ["  " if rng.random() < 0.05 else " " for _ in words[1:]]
        line = words[0] + "".join(s + w for s, w in zip(sep, words[1:]))
        out.append(line + [".", ".", "?", "!", ",", ":"][int(rng.integers(6))])
    return out


def train_tokenizer() -> tuple[Path, str]:
    import sentencepiece as spm

    lines = corpus(np.random.default_rng(SEED), 4000)
    buf = io.BytesIO()
    # Llama 2's trainer settings: BPE, byte fallback, digits split, identity normalisation,
    # whitespace kept as written. One thread keeps training deterministic.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, model_type="bpe", vocab_size=VOCAB,
        byte_fallback=True, character_coverage=0.9995, split_digits=True,
        allow_whitespace_only_pieces=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", add_dummy_prefix=True, unk_id=0, bos_id=1, eos_id=2,
        pad_id=-1, num_threads=1, shuffle_input_sentence=False, input_sentence_size=0,
        minloglevel=2)
    SPM_DIR.mkdir(parents=True, exist_ok=True)
    path = SPM_DIR / "tokenizer.model"
    path.write_bytes(buf.getvalue())
    log(f"tokenizer: {VOCAB} pieces trained on 4000 generated lines")
    return path, sha256_bytes("\n".join(lines).encode())


def train_bpe() -> Path:
    """A GPT-2 style byte-level BPE (HF tokenizers) on the same generated corpus, saved as
    tokenizer.json and as a vocab-only GGUF (tokenizer.ggml.model = gpt2, pre = gpt-2) written
    with gguf-py, since convert_hf_to_gguf.py only accepts pre-tokenizers it has hashed."""
    import gguf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    lines = corpus(np.random.default_rng(SEED), 4000)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(lines, trainer)
    BPE_DIR.mkdir(parents=True, exist_ok=True)
    tok.save(str(BPE_DIR / "tokenizer.json"))
    spec = json.loads((BPE_DIR / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    tokens = [""] * len(vocab)
    for text, i in vocab.items():
        tokens[i] = text
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    eot = vocab["<|endoftext|>"]
    w = gguf.GGUFWriter(str(BPE_DIR / "vocab.gguf"), "llama")
    # llama.cpp reads the architecture's hyperparameters even for a vocab-only load.
    w.add_block_count(1)
    w.add_context_length(256)
    w.add_embedding_length(256)
    w.add_feed_forward_length(256)
    w.add_head_count(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types([3 if i == eot else 1 for i in range(len(tokens))])
    w.add_token_merges(merges)
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eot)
    w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    log(f"BPE tokenizer: {len(tokens)} tokens, {len(merges)} merges")
    return BPE_DIR / "vocab.gguf"


def bpe_goldens(bin_dir: Path, vocab: Path) -> str:
    from tokenizers import Tokenizer

    hf_tok = Tokenizer.from_file(str(BPE_DIR / "tokenizer.json"))
    scratch = ROOT / "golden" / ".cache" / "tokenize-input.txt"
    cases = []
    for text in TRICKY + ["<|endoftext|>", "a<|endoftext|>b", "don't we'll you're I've she'd"]:
        scratch.write_bytes(text.encode())
        case = {"text": text}
        for key, flags in (("llama_cpp", ["--no-parse-special"]), ("llama_cpp_parse_special", [])):
            if not flags and "<|endoftext|>" not in text:
                continue
            out = run([bin_dir / "llama-tokenize", "-m", vocab, "-f", scratch, "--ids",
                       "--log-disable", "--no-escape", *flags])
            case[key] = json.loads(out.strip().splitlines()[-1])
        case["hf"] = hf_tok.encode(text).ids
        cases.append(case)
    (BPE_DIR / "tokenize.json").write_text(
        json.dumps({"add_bos": False, "cases": cases}, indent=1, ensure_ascii=False) + "\n")
    special = [c for c in cases if "llama_cpp_parse_special" in c]
    summary = (f"{len(cases)} strings. HF tokenizers equals llama.cpp without special-token "
               f"parsing on {sum(c['hf'] == c['llama_cpp'] for c in cases)}; on the {len(special)} "
               f"strings with special-token text HF equals llama.cpp with special-token parsing "
               f"on {sum(c['hf'] == c['llama_cpp_parse_special'] for c in special)}.")
    log(f"BPE tokenizer goldens: {summary}")
    return summary


def sha256_bytes(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


def write_hf_model(spec: Spec, index: int, tokenizer_model: Path) -> Path:
    """config.json, model.safetensors and tokenizer files, as transformers would save them."""
    import torch
    import transformers
    from safetensors.torch import save_file
    from transformers import LlamaTokenizerFast

    hf = MODELS / spec.name / "hf"
    if hf.exists():
        shutil.rmtree(hf)
    hf.mkdir(parents=True)
    dtype = getattr(torch, spec.hf_dtype)
    config_class, model_class = FAMILIES[spec.family]
    extra: dict = {}
    if spec.head_dim is not None:
        extra["head_dim"] = spec.head_dim
    if spec.rope_scaling is not None:
        extra["rope_scaling"] = dict(spec.rope_scaling)
    if spec.sliding_window is not None:
        assert spec.family in ("mistral", *GEMMA), spec.name
        extra["sliding_window"] = spec.sliding_window
    if spec.family == "qwen2":
        assert spec.qkv_bias, "Qwen2's Q/K/V projections always have biases"
    elif spec.family in ("llama", "qwen3"):
        if spec.qkv_bias:
            extra["attention_bias"] = True
        elif spec.family == "qwen3":
            extra["attention_bias"] = False
    else:
        assert not spec.qkv_bias, spec.name
    if spec.family == "phi3":
        # Phi3Config's defaults name token 32000 as padding (past this vocabulary) and a 4096
        # original context; no sliding window (llama.cpp disables Phi's).
        extra["pad_token_id"] = 0
        extra["original_max_position_embeddings"] = spec.original_context or spec.ctx
    if spec.family in GEMMA:
        # llama.cpp's Gemma graphs scale queries by 1 / sqrt(head_dim) (1 / sqrt(hidden / heads)
        # for the 27B models only); HF by query_pre_attn_scalar^-0.5, so the two agree here.
        assert spec.tied and spec.head_dim is not None, spec.name
        extra.update(hidden_activation="gelu_pytorch_tanh", pad_token_id=0,
                     query_pre_attn_scalar=spec.head_dim,
                     attn_logit_softcapping=spec.attn_softcap,
                     final_logit_softcapping=spec.final_softcap)
        if spec.family == "gemma3":
            extra["rope_local_base_freq"] = 10000.0
    else:
        assert spec.attn_softcap is None and spec.final_softcap is None, spec.name
        extra["hidden_act"] = "silu"
    cfg = getattr(transformers, config_class)(
        vocab_size=VOCAB, hidden_size=spec.hidden, intermediate_size=spec.ffn,
        num_hidden_layers=spec.layers, num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads, max_position_embeddings=spec.ctx,
        rms_norm_eps=spec.eps, rope_theta=spec.rope_theta, tie_word_embeddings=spec.tied,
        bos_token_id=1, eos_token_id=2, torch_dtype=spec.hf_dtype,
        architectures=[model_class], **extra)
    cfg.save_pretrained(hf)
    shapes = {k: tuple(v.shape)
              for k, v in getattr(transformers, model_class)(cfg).state_dict().items()}
    if spec.tied:
        shapes.pop("lm_head.weight")
    rng = np.random.default_rng(SEED + 1000 * (index + 1))
    tensors = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if name.endswith("norm.weight"):
            # Never trivially 1.0: a norm read from the wrong tensor or skipped is visible
            # (Qwen3's per-head self_attn.q_norm.weight and k_norm.weight included). Gemma's
            # RMSNorm multiplies by 1 + weight, so its weights are the offsets alone.
            w = (0.0 if spec.family in GEMMA else 1.0) + rng.uniform(-0.4, 0.4, shape)
        elif name.endswith(".bias"):
            # Non-zero, so a bias that is dropped or added twice is visible.
            w = rng.normal(0.0, 0.05, shape)
        elif name == "model.embed_tokens.weight":
            w = rng.normal(0.0, 0.05, shape)
        else:
            w = rng.normal(0.0, spec.weight_std, shape)
        tensors[name] = torch.from_numpy(w).to(dtype).contiguous()
    save_file(tensors, str(hf / "model.safetensors"), metadata={"format": "pt"})
    # legacy=True with add_prefix_space=True is sentencepiece's own behaviour (the dummy prefix);
    # without add_prefix_space the converted fast tokenizer drops the prefix.
    tok = LlamaTokenizerFast(vocab_file=str(tokenizer_model), add_bos_token=True,
                             add_eos_token=False, legacy=True, add_prefix_space=True, from_slow=True)
    tok.save_pretrained(hf)
    return hf


def convert(spec: Spec, folder: Path, hf: Path, llama: Path) -> Path:
    out = folder / f"{spec.name}-F32.gguf"
    run([sys.executable, llama / "convert_hf_to_gguf.py", hf, "--outtype", "f32", "--outfile", out])
    if spec.rope_scaling is not None and spec.rope_scaling.get("rope_type") == "llama3":
        # Llama 3.1 scaling reaches llama.cpp only as this tensor of per-frequency divisors.
        import gguf
        freqs = [t for t in gguf.GGUFReader(out).tensors if t.name == "rope_freqs.weight"]
        half = (spec.head_dim or spec.hidden // spec.heads) // 2
        if len(freqs) != 1 or freqs[0].n_elements != half:
            sys.exit(f"{out.name}: no rope_freqs.weight of head_dim / 2 values")
    return out


def quantize(bin_dir: Path, f32: Path, label: str,
             allow_fallback: bool = False) -> tuple[Path, list[str]]:
    """The quantized file and llama-quantize's fallback warnings, one per tensor plus its count
    (allowed only where the spec says so)."""
    qtype, pure = QUANTS[label]
    out = f32.with_name(f32.name.replace("-F32.gguf", f"-{label}.gguf"))
    log_text = run([bin_dir / "llama-quantize", *(["--pure"] if pure else []), f32, out, qtype,
                    str(THREADS)], stderr_too=True)
    fallbacks = [" ".join(line.split()) for line in log_text.splitlines()
                 if "fallback" in line or "falling back" in line]
    if fallbacks and not allow_fallback:
        sys.exit(f"llama-quantize fell back to another type for {out.name}:\n{log_text}")
    return out, fallbacks


def tensor_types(path: Path) -> dict[str, str]:
    import gguf
    return {t.name: t.tensor_type.name for t in gguf.GGUFReader(path).tensors}


def check_single_type(path: Path, label: str) -> None:
    want = SINGLE_TYPE.get(label)
    if want is None:
        return
    import gguf
    # Norm weights, biases and rope_freqs are vectors, which llama-quantize keeps in F32.
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(path).tensors
             if not t.name.endswith("norm.weight") and len(t.shape) > 1}
    wrong = {n: t for n, t in types.items() if t != want}
    if wrong:
        sys.exit(f"{path.name}: expected every weight in {want}, found {wrong}")


def prompt_tokens(spec: Spec, tokenizer_model: Path) -> list[int]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model))
    rng = np.random.default_rng(SEED + 7)
    text = " ".join(corpus(rng, 200))
    ids = [sp.bos_id()] + sp.encode(text)
    assert len(ids) >= spec.n_tokens, (len(ids), spec.n_tokens)
    return ids[: spec.n_tokens]


def hf_forward(spec: Spec, hf: Path, tokens: list[int], dtype: str = "float64",
               proofs: bool = True) -> dict[str, np.ndarray]:
    """Logits and the hidden state after every layer (and, with op_trace, after every op), in
    float64 (float32 where asked), captured with forward hooks so each name means one thing.
    `proofs` adds the passes that show what a generated model's features change."""
    import torch
    from tqdm import tqdm

    model = load_hf(hf, dtype)
    out: dict[str, np.ndarray] = {}
    # A real checkpoint's pass takes minutes: one tick per layer.
    layers_bar = tqdm(total=spec.layers, desc=f"HF {dtype} forward", unit="layer",
                      file=sys.stderr, leave=False)

    def tick(*_):
        layers_bar.update()  # returns nothing: a forward hook's result replaces the output

    for layer in model.model.layers:
        layer.register_forward_hook(tick)

    def keep(name, heads_first=False):
        def hook(_module, _inputs, output):
            t = output[0] if isinstance(output, tuple) else output
            t = t[0].detach()
            if heads_first:
                # Gemma 3 normalises Q and K as [heads, n, head_dim]: back to token rows.
                t = t.transpose(0, 1)
            # Qwen3's q_norm/k_norm give [n, heads, head_dim]; every golden is [n, width].
            out[name] = t.numpy().reshape(len(tokens), -1).copy()
        return hook

    def keep_split(names, widths):
        """A fused projection's output cut into its parts by columns (Phi-3's qkv_proj: q, k, v;
        gate_up_proj: gate, up)."""
        def hook(_module, _inputs, output):
            t = output[0].detach().numpy().reshape(len(tokens), -1)
            at = 0
            for name, width in zip(names, widths):
                out[name] = t[:, at:at + width].copy()
                at += width
            assert at == t.shape[1], (names, widths, t.shape)
        return hook

    def keep_input(name):
        def hook(_module, args, kwargs):
            t = args[0] if args else kwargs["hidden_states"]
            out[name] = t[0].detach().numpy().reshape(len(tokens), -1).copy()
        return hook

    m = model.model
    gemma = spec.family in GEMMA
    if gemma:
        # What enters the first layer: Gemma scales the embedding rows by sqrt(hidden) (inside
        # embed_tokens for Gemma 3, after it for Gemma 2).
        m.layers[0].register_forward_pre_hook(keep_input("embedding"), with_kwargs=True)
    else:
        m.embed_tokens.register_forward_hook(keep("embedding"))
    for i, layer in enumerate(m.layers):
        layer.register_forward_hook(keep(f"layers.{i}.output"))
        if spec.op_trace and spec.family == "phi3":
            hd = spec.head_dim or spec.hidden // spec.heads
            q_w, kv_w = spec.heads * hd, spec.kv_heads * hd
            layer.self_attn.qkv_proj.register_forward_hook(keep_split(
                [f"layers.{i}.{op}" for op in ("q_proj", "k_proj", "v_proj")], [q_w, kv_w, kv_w]))
            layer.mlp.gate_up_proj.register_forward_hook(keep_split(
                [f"layers.{i}.{op}" for op in ("ffn_gate", "ffn_up")], [spec.ffn, spec.ffn]))
            ops = {"attn_norm": layer.input_layernorm, "attn_out": layer.self_attn.o_proj,
                   "ffn_norm": layer.post_attention_layernorm, "ffn_out": layer.mlp.down_proj}
            for op, module in ops.items():
                module.register_forward_hook(keep(f"layers.{i}.{op}"))
        elif spec.op_trace:
            ops = {"attn_norm": layer.input_layernorm, "q_proj": layer.self_attn.q_proj,
                   "k_proj": layer.self_attn.k_proj, "v_proj": layer.self_attn.v_proj,
                   "attn_out": layer.self_attn.o_proj, "ffn_norm": layer.post_attention_layernorm,
                   "ffn_gate": layer.mlp.gate_proj, "ffn_up": layer.mlp.up_proj,
                   "ffn_out": layer.mlp.down_proj}
            if gemma:
                ops["attn_post_norm"] = layer.post_attention_layernorm
                ops["ffn_norm"] = layer.pre_feedforward_layernorm
                ops["ffn_post_norm"] = layer.post_feedforward_layernorm
            if spec.family in ("qwen3", "gemma3"):
                for op in ("q_norm", "k_norm"):
                    getattr(layer.self_attn, op).register_forward_hook(
                        keep(f"layers.{i}.{op}", heads_first=spec.family == "gemma3"))
            for op, module in ops.items():
                module.register_forward_hook(keep(f"layers.{i}.{op}"))
    m.norm.register_forward_hook(keep("output_norm"))
    # Q and K after RoPE, as HF computes them: RoPE is a function, not a module, so it is
    # wrapped for this one pass. Gemma's and Phi-3's rows are in GGUF order already (NEOX RoPE,
    # no permutation), so the engine's q and k compare with these directly.
    rope_calls: list = []
    modeling = None
    if (gemma or spec.family == "phi3") and spec.op_trace:
        import importlib
        modeling = importlib.import_module(f"transformers.models.{spec.family}.modeling_{spec.family}")
        original = modeling.apply_rotary_pos_emb

        def recording(q, k, *args, **kwargs):
            q2, k2 = original(q, k, *args, **kwargs)
            rope_calls.append((q2, k2))
            return q2, k2
        modeling.apply_rotary_pos_emb = recording
    try:
        with torch.no_grad():
            logits = model(torch.tensor([tokens])).logits
    finally:
        if modeling is not None:
            modeling.apply_rotary_pos_emb = original
    if modeling is not None:
        assert len(rope_calls) == spec.layers, len(rope_calls)
        for i, (q2, k2) in enumerate(rope_calls):
            # [1, heads, n, head_dim] -> [n, heads x head_dim]
            out[f"layers.{i}.q_rope"] = q2[0].transpose(0, 1).reshape(len(tokens), -1).numpy().copy()
            out[f"layers.{i}.k_rope"] = k2[0].transpose(0, 1).reshape(len(tokens), -1).numpy().copy()
    layers_bar.close()
    out["logits"] = logits[0].numpy().copy()
    if proofs and spec.rope_scaling is not None:
        # Without the scaling, to show that it matters over these positions (not stored).
        plain = load_hf(hf, rope_scaling=None)
        assert plain.config.rope_scaling is None
        with torch.no_grad():
            out["_logits_no_rope_scaling"] = plain(torch.tensor([tokens])).logits[0].numpy().copy()
    if proofs and gemma:
        # What the distinctive features change (not stored): every layer global, and no soft-caps.
        full = load_hf(hf, layer_types=["full_attention"] * spec.layers)
        with torch.no_grad():
            out["_logits_all_global"] = full(torch.tensor([tokens])).logits[0].numpy().copy()
        if spec.attn_softcap is not None:
            plain = load_hf(hf, attn_logit_softcapping=None, final_logit_softcapping=None)
            with torch.no_grad():
                out["_logits_no_softcap"] = plain(torch.tensor([tokens])).logits[0].numpy().copy()
    elif proofs and spec.sliding_window is not None:
        # The same checkpoint with full attention, and proof that HF applies the window.
        full = load_hf(hf, sliding_window=None)
        assert full.config.sliding_window is None
        assert model.config.sliding_window == spec.sliding_window
        with torch.no_grad():
            out["logits_no_sliding_window"] = full(torch.tensor([tokens])).logits[0].numpy().copy()
    return out


def load_hf(hf: Path, dtype: str = "float64", **overrides):
    """The checkpoint in float64 (or `dtype`) with eager attention, as its family's class
    (config.json)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model, info = AutoModelForCausalLM.from_pretrained(
        hf, dtype=getattr(torch, dtype), attn_implementation="eager", output_loading_info=True, **overrides)
    if any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")):
        sys.exit(f"{hf}: loading info {info}")
    model.eval()
    return model


def llama_logits(exe: Path, gguf_path: Path, tokens: list[int], mode: str,
                 trace: Path | None = None) -> np.ndarray:
    raw = exe.parent / f"logits-{os.getpid()}.bin"
    args = [exe, gguf_path, ",".join(map(str, tokens)), raw, mode, str(THREADS)]
    info = json.loads(run(args + ([trace] if trace else [])).strip().splitlines()[-1])
    data = np.fromfile(raw, dtype="<f4").reshape(info["n_tokens"], info["n_vocab"])
    raw.unlink()
    return data


# The activations an engine's trace can be compared with; KV-cache views, attention score
# matrices ([heads, n, n_ctx]) and unnamed nodes are left out.
TRACE_NAMES = re.compile(r"^(embd|inp_scaled|result_norm|result_output|(attn_norm|Qcur|Kcur|Vcur|"
                         r"Qcur_normed|Kcur_normed|kqv_out|attn_post_norm|sa_out|ffn_gelu|"
                         r"attn_out|ffn_inp|ffn_norm|ffn_gate|ffn_up|ffn_swiglu|ffn_out|l_out)-\d+)$")
SAME_DATA = {"RESHAPE", "VIEW", "PERMUTE", "TRANSPOSE"}


def read_trace(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Our llama-logits trace records, filtered by TRACE_NAMES. A name computed again by another
    op (Qcur-0: the matmul, then RoPE) keeps each result as name@op (Qcur-0@rope); a reshape or
    view of the same data is skipped. An incremental trace (one graph per token, each ended by an
    empty record) comes back with each name's rows stacked in token order."""
    steps = [read_graph(g) for g in split_graphs(path.read_bytes())]
    if len(steps) == 1:
        return steps[0]
    tensors = {k: np.concatenate([s[0][k].reshape(1, -1) for s in steps])
               for k in steps[0][0]}
    return tensors, steps[0][1]


def split_graphs(buf: bytes) -> list[bytes]:
    """An incremental trace's graphs, at its empty records (a batch trace is one graph)."""
    end = struct.pack("<III", 0, 0, 0)
    graphs, pos, start = [], 0, 0
    while pos < len(buf):
        if buf[pos:pos + 12] == end:
            graphs.append(buf[start:pos])
            pos += 12
            start = pos
            continue
        name_len = struct.unpack_from("<I", buf, pos)[0]
        op_len = struct.unpack_from("<I", buf, pos + 4 + name_len)[0]
        at = pos + 8 + name_len + op_len
        n_dims = struct.unpack_from("<I", buf, at)[0]
        ne = struct.unpack_from(f"<{n_dims}q", buf, at + 4)
        pos = at + 4 + 8 * n_dims + 4 * int(np.prod(ne))
    if start < len(buf):
        graphs.append(buf[start:])
    return graphs


def trace_spread(batch: dict[str, np.ndarray], incremental: dict[str, np.ndarray]) -> dict:
    """llama.cpp against itself on one file: the relative L2 difference per traced op between
    its batch pass and one token per call. What a second engine may differ by at that op without
    a bug: `oracle diff` derives its per-op tolerance for the file from it."""
    out = {}
    for key, b in batch.items():
        if key not in incremental:
            continue
        b64 = b.astype(np.float64).reshape(incremental[key].shape[0], -1)
        i64 = incremental[key].astype(np.float64)
        if b64.shape != i64.shape:
            continue
        norm = np.linalg.norm(b64)
        out[key] = float(np.linalg.norm(b64 - i64) / norm) if norm > 0 else 0.0
    return dict(sorted(out.items()))


def read_graph(buf: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """One graph's records (see read_trace)."""
    pos = 0
    tensors: dict[str, np.ndarray] = {}
    ops: dict[str, str] = {}

    def take(n: int) -> bytes:
        nonlocal pos
        pos += n
        return buf[pos - n:pos]

    while pos < len(buf):
        name = take(struct.unpack("<I", take(4))[0]).decode()
        op = take(struct.unpack("<I", take(4))[0]).decode()
        n_dims = struct.unpack("<I", take(4))[0]
        ne = struct.unpack(f"<{n_dims}q", take(8 * n_dims))
        count = int(np.prod(ne))
        data = np.frombuffer(take(4 * count), dtype="<f4").reshape(tuple(reversed(ne)))
        if not TRACE_NAMES.match(name):
            continue
        key = name
        if key in tensors:
            if op in SAME_DATA:
                continue
            key = f"{name}@{op.lower()}"
        assert key not in tensors, key
        tensors[key] = data.copy()
        ops[key] = op
    return tensors, ops


def save_tensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None):
    from safetensors.numpy import save_file
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata=metadata)


def softmax64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def compare(ref: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """Per-position KL(ref || test) and friends, as llama-perplexity's KL statistics define them."""
    p, q = softmax64(ref), softmax64(test)
    kl = np.sum(p * (np.log(p) - np.log(q)), axis=-1)
    a, b = ref.astype(np.float64), test.astype(np.float64)
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return {
        "max_abs": float(np.max(np.abs(a - b))),
        "kl_mean": float(kl.mean()),
        "kl_max": float(kl.max()),
        "top1": float(np.mean(np.argmax(a, -1) == np.argmax(b, -1))),
        "cosine_min": float(cos.min()),
    }


def tokenizer_goldens(bin_dir: Path, vocab: Path, hf: Path, tokenizer_model: Path) -> str:
    import sentencepiece as spm
    from transformers import AutoTokenizer

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model))
    hf_tok = AutoTokenizer.from_pretrained(hf)
    scratch = ROOT / "golden" / ".cache" / "tokenize-input.txt"
    cases = []
    for text in TRICKY:
        scratch.write_bytes(text.encode())
        case = {"text": text}
        for key, flags in (("llama_cpp", ["--no-parse-special"]), ("llama_cpp_parse_special", [])):
            if not flags and not any(s in text for s in ("<s>", "</s>", "<unk>")):
                continue
            out = run([bin_dir / "llama-tokenize", "-m", vocab, "-f", scratch, "--ids",
                       "--log-disable", "--no-escape", *flags])
            case[key] = json.loads(out.strip().splitlines()[-1])
        case["hf"] = hf_tok(text)["input_ids"]
        case["sentencepiece"] = [sp.bos_id()] + sp.encode(text)
        cases.append(case)
    path = SPM_DIR / "tokenize.json"
    path.write_text(json.dumps({"add_bos": True, "cases": cases}, indent=1, ensure_ascii=False) + "\n")
    special = [c for c in cases if "llama_cpp_parse_special" in c]
    summary = (f"{len(cases)} strings. Without special-token parsing llama.cpp equals sentencepiece "
               f"on {sum(c['sentencepiece'] == c['llama_cpp'] for c in cases)}; HF equals llama.cpp "
               f"on {sum(c['hf'] == c['llama_cpp'] for c in cases)}, and on the {len(special)} "
               f"strings with special-token text HF equals llama.cpp with special-token parsing on "
               f"{sum(c['hf'] == c['llama_cpp_parse_special'] for c in special)}.")
    log(f"tokenizer goldens: {summary}")
    return summary


# safetensors' dtype codes under the numpy names every golden manifest uses.
NUMPY_DTYPE = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
               "U8": "uint8", "I8": "int8", "I32": "int32", "I64": "int64"}


def describe(path: Path) -> dict:
    entry: dict = {"sha256": sha256(path), "bytes": path.stat().st_size}
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        with safe_open(str(path), "np") as f:
            entry["tensors"] = {k: {"dtype": NUMPY_DTYPE[f.get_slice(k).get_dtype()],
                                    "shape": list(f.get_slice(k).get_shape())} for k in f.keys()}
    elif path.suffix == ".gguf":
        types: dict[str, int] = {}
        for t in tensor_types(path).values():
            types[t] = types.get(t, 0) + 1
        entry["tensor_types"] = dict(sorted(types.items()))
    return entry


def versions() -> dict[str, str]:
    names = ["numpy", "torch", "transformers", "tokenizers", "sentencepiece", "protobuf",
             "safetensors"]
    v = {n: version(n) for n in names}
    v["python"] = platform.python_version()
    v["llama-cpp-python sdist"] = LLAMA_CPP_PYTHON
    v["llama.cpp commit"] = llama_commit()
    return v


def write_manifest(folder: Path, command: str, body: dict) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
    body = {
        "command": command,
        "script_sha256": sha256(Path(__file__)),
        "helper_sha256": sha256(Path(__file__).with_name("llamacpp.py")),
        "generated": today(),
        "seed": SEED,
        "versions": versions(),
        "machine": platform.machine(),
        **body,
        "files": {p.relative_to(folder).as_posix(): describe(p) for p in files},
    }
    (folder / "manifest.json").write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")


@dataclass(frozen=True)
class Tools:
    llama: Path  # the vendored llama.cpp source (convert_hf_to_gguf.py, gguf-py)
    bin_dir: Path  # llama-quantize, llama-tokenize
    exe: Path  # our llama-logits


def tools() -> Tools:
    _, llama = fetch_source()
    # gguf-py as the converter uses it: the copy vendored next to it.
    sys.path.insert(1, str(llama / "gguf-py"))
    log(f"llama.cpp {llama_commit()[:9]} from llama-cpp-python {LLAMA_CPP_PYTHON}; building tools")
    bin_dir = build_tools(["llama-quantize", "llama-tokenize"])
    exe = build_logits_tool()
    log("tools ready")
    return Tools(llama, bin_dir, exe)


# The HF reference's file in a golden set, by the dtype HF ran in.
HF_REFERENCE = {"float64": "hf_f64.safetensors", "float32": "hf_f32.safetensors"}


def progress(steps: int, desc: str):
    """One bar per golden set over its steps (convert, each quantization, HF, each llama.cpp
    run), on stderr so the log stays readable."""
    from tqdm import tqdm
    return tqdm(total=steps, desc=desc, unit="step", file=sys.stderr, leave=True,
                bar_format="{desc}: {n_fmt}/{total_fmt} steps |{bar:24}| {elapsed} {postfix}")


def build_set(spec: Spec, folder: Path, hf: Path, tokens: list[int], tools: Tools, command: str,
              reference_dtype: str = "float64", proofs: bool = True,
              provenance: dict | None = None) -> list[str]:
    """One golden set from an HF checkpoint: its f32 GGUF and quantizations (llama.cpp), HF's
    logits and intermediates, llama.cpp's logits (batch and incremental) and trace of every file,
    and the manifest. The committed reference models and a user's own checkpoint (`new`) both
    come through here. `proofs` adds the checks that a generated model exercises what it was
    made for (sliding window, soft-caps, RoPE scaling change the logits); a user's checkpoint is
    taken as it is. Returns the rows of AGREEMENT.md."""
    provenance = provenance or {}
    ref = "f64" if reference_dtype == "float64" else "f32"
    bar = progress(steps=2 + len(spec.quants) + 2 * (1 + len(spec.quants)), desc=spec.name)
    bar.set_postfix_str("convert")
    f32 = convert(spec, folder, hf, tools.llama)
    bar.update()
    files = {"F32": f32}
    fallbacks = {}
    spreads: dict[str, dict] = {}
    for label in spec.quants:
        bar.set_postfix_str(f"quantize {label}")
        files[label], fallbacks[label] = quantize(tools.bin_dir, f32, label, spec.allow_fallback)
        check_single_type(files[label], label)
        bar.update()
    log(f"{spec.name}: HF {spec.hf_dtype} checkpoint, GGUF F32 + {', '.join(spec.quants)}")
    bar.set_postfix_str(f"HF {reference_dtype}")
    hf_out = hf_forward(spec, hf, tokens, reference_dtype, proofs)
    bar.update()
    no_rope_scaling = hf_out.pop("_logits_no_rope_scaling", None)
    all_global = hf_out.pop("_logits_all_global", None)
    no_softcap = hf_out.pop("_logits_no_softcap", None)
    save_tensors(folder / HF_REFERENCE[reference_dtype], hf_out)
    agreement = {}
    ref_batch = None
    for label, path in files.items():
        # Every file's eval-callback trace: the F32 file's is compared with HF, a quantized
        # file's is what an engine's run of the same file is compared with (oracle diff).
        trace = folder / "trace.bin" if spec.op_trace else None
        bar.set_postfix_str(f"llama.cpp {label} batch")
        batch = llama_logits(tools.exe, path, tokens, "batch", trace)
        bar.update()
        bar.set_postfix_str(f"llama.cpp {label} incremental")
        inc_trace = folder / "trace-incremental.bin" if trace else None
        inc = llama_logits(tools.exe, path, tokens, "incremental", inc_trace)
        bar.update()
        save_tensors(folder / f"llamacpp_{label}.safetensors",
                     {"logits_batch": batch, "logits_incremental": inc})
        if trace:
            tensors, ops = read_trace(trace)
            save_tensors(folder / f"llamacpp_trace_{label}.safetensors", tensors,
                         {"ops": json.dumps(ops, sort_keys=True)})
            spreads[label] = trace_spread(tensors, read_trace(inc_trace)[0])
            trace.unlink()
            inc_trace.unlink()
        if label == "F32":
            ref_batch = batch
            agreement[f"F32 vs HF {ref}"] = compare(hf_out["logits"], batch)
            if proofs and spec.family == "mistral":
                w = spec.sliding_window
                agreement[f"F32 vs HF f64, positions < {w}"] = compare(
                    hf_out["logits"][:w], batch[:w])
                agreement["F32 vs HF f64 without sliding window"] = compare(
                    hf_out["logits_no_sliding_window"], batch)
        else:
            agreement[f"{label} vs F32"] = compare(ref_batch, batch)
        agreement[f"{label} incremental vs batch"] = compare(batch, inc)
    log(f"{spec.name}: HF {ref} and llama.cpp logits for {len(tokens)} tokens")
    extra: dict = {}
    for key, other in (("sliding_window_effect_max_abs", all_global),
                       ("softcap_effect_max_abs", no_softcap)):
        if other is not None:
            extra[key] = float(np.abs(hf_out["logits"] - other).max())
            log(f"{spec.name}: {key} {extra[key]:.3g}")
            if extra[key] < 1e-3:
                sys.exit(f"{spec.name}: {key} is too small to test anything")
    if proofs and spec.family == "mistral":
        # HF with and without the window: equal before it, different from it on.
        w = spec.sliding_window
        effect = np.abs(hf_out["logits"] - hf_out["logits_no_sliding_window"]).max(axis=-1)
        extra["sliding_window_effect_max_abs"] = float(effect[w:].max())
        extra["sliding_window_effect_max_abs_before_window"] = float(effect[:w].max())
        if not (effect[:w].max() == 0.0 and effect[w:].min() > 1e-3):
            sys.exit(f"{spec.name}: HF does not apply the sliding window as expected: {effect}")
        log(f"{spec.name}: sliding window changes HF's logits by up to {effect[w:].max():.3g} "
            f"from position {w} on, by {effect[:w].max():.3g} before")
    if no_rope_scaling is not None:
        extra["rope_scaling_effect_max_abs"] = float(
            np.abs(hf_out["logits"] - no_rope_scaling).max())
        log(f"{spec.name}: RoPE scaling changes HF's logits by up to "
            f"{extra['rope_scaling_effect_max_abs']:.3g}")
    if spec.allow_fallback:
        extra["quantize_fallbacks"] = fallbacks
    layout_extra = {"hf": "", "trace": ""}
    if spec.qkv_bias:
        layout_extra["hf"] += "; q_proj, k_proj and v_proj include their biases"
        layout_extra["trace"] += "; Qcur-N, Kcur-N, Vcur-N are the matmuls, Qcur-N@add, " \
                                 "Kcur-N@add, Vcur-N@add the same plus the biases"
    if spec.family in GEMMA:
        layout_extra["hf"] += "; embedding: the input of layer 0 (scaled by sqrt(hidden)); " \
                              "layers.N.{attn_post_norm, ffn_norm, ffn_post_norm}: " \
                              "post_attention_layernorm, pre_feedforward_layernorm, " \
                              "post_feedforward_layernorm (ffn_norm is the pre-FFN norm); " \
                              "layers.N.{q_rope, k_rope}: Q and K after RoPE " \
                              "(apply_rotary_pos_emb's results), [n_tokens, heads x head_dim]"
        layout_extra["trace"] += "; inp_scaled: the embedding times sqrt(hidden); " \
                                 "attn_post_norm-N, sa_out-N (after the residual), " \
                                 "ffn_gelu-N"
    if spec.family in ("qwen3", "gemma3"):
        layout_extra["hf"] += "; layers.N.{q_norm, k_norm}: self_attn.q_norm and k_norm " \
                              "(per-head RMSNorm, after the projection, before RoPE), " \
                              "[n_tokens, heads x head_dim], heads in HF order"
        layout_extra["trace"] += "; Qcur_normed-N, Kcur_normed-N: after attn_q_norm and " \
                                 "attn_k_norm, before RoPE ([n_tokens, heads, head_dim])"
    if spec.family in ("qwen2", "qwen3"):
        layout_extra["trace"] += f"; llama.cpp's {spec.family} graph names no attn_out-N " \
                                 "(kqv_out-N is the input of attn_output)"
    if spec.family == "phi3" and spec.op_trace:
        layout_extra["hf"] += "; layers.N.{q_proj, k_proj, v_proj} and {ffn_gate, ffn_up}: " \
                              "the column parts of qkv_proj and gate_up_proj; " \
                              "layers.N.{q_rope, k_rope}: Q and K after RoPE " \
                              "(apply_rotary_pos_emb's results), [n_tokens, heads x head_dim]"
        layout_extra["trace"] += "; llama.cpp's phi3 graph names the RoPE results Qcur-N, " \
                                 "Kcur-N (the fused projection's views are not contiguous)"
    if proofs and spec.family == "mistral":
        layout_extra["hf"] += "; logits_no_sliding_window: the same checkpoint loaded with " \
                              "sliding_window=None (full causal attention, as llama.cpp " \
                              "runs it)"
    bar.close()
    rows = []
    for key, m in agreement.items():
        rows.append(f"| {spec.name} | {key} | {m['max_abs']:.2e} | {m['kl_mean']:.2e} | "
                    f"{m['kl_max']:.2e} | {m['top1'] * 100:.1f}% | {m['cosine_min']:.6f} |")
    write_manifest(folder, command, {
        "model": spec.name,
        "purpose": spec.purpose,
        "tool": f"HF transformers ({reference_dtype}, eager attention) and llama.cpp "
                "(convert_hf_to_gguf.py, llama-quantize, llama-logits: flash attention off, f32 KV cache)",
        "commands": {
            "convert": f"python convert_hf_to_gguf.py hf --outtype f32 --outfile {f32.name}",
            "quantize": {lbl: f"llama-quantize {'--pure ' if QUANTS[lbl][1] else ''}"
                              f"{f32.name} {files[lbl].name} {QUANTS[lbl][0]} {THREADS}"
                         for lbl in spec.quants},
            "logits": f"llama-logits MODEL TOKENS OUT batch|incremental {THREADS}",
        },
        "config": {k: v for k, v in spec.__dict__.items() if k not in ("name", "purpose")
                   and (k not in SPEC_DEFAULTS or v != SPEC_DEFAULTS[k])},
        "tokens": tokens,
        "agreement": agreement,
        **({"trace_spread": spreads} if spreads else {}),
        **extra,
        **provenance,
        "layout": {
            HF_REFERENCE[reference_dtype]: f"embedding, layers.N.output, output_norm, logits "
                                           f"({reference_dtype}); "
                                  "with op tracing also layers.N.{attn_norm, q_proj, k_proj, "
                                  "v_proj (before RoPE, HF row order), attn_out (o_proj), "
                                  "ffn_norm, ffn_gate, ffn_up, ffn_out}" + layout_extra["hf"],
            "llamacpp_<TYPE>.safetensors": "logits_batch, logits_incremental (float32, "
                                           "[n_tokens, n_vocab])",
            "llamacpp_trace_<TYPE>.safetensors": "llama.cpp's activations by ggml name (embd, "
                                              "LAYER-wise attn_norm, Qcur, Kcur, Vcur, kqv_out, "
                                              "attn_out, ffn_inp, ffn_norm, ffn_gate, ffn_up, "
                                              "ffn_swiglu, ffn_out, l_out; result_norm, "
                                              "result_output); a later op on the same name as "
                                              "name@op (Qcur-0@rope); ops in the 'ops' metadata"
                                              + layout_extra["trace"],
        },
    })
    return rows


def generate() -> None:
    """The committed reference models, tokenizers and their goldens."""
    t = tools()
    for folder in (SPM_DIR, BPE_DIR, MODELS):
        if folder.exists():
            shutil.rmtree(folder)
    tokenizer_model, corpus_sha = train_tokenizer()
    rows: list[str] = []
    first_hf = None
    for index, spec in enumerate(SPECS):
        hf = write_hf_model(spec, index, tokenizer_model)
        first_hf = first_hf or hf
        rows += build_set(spec, MODELS / spec.name, hf, prompt_tokens(spec, tokenizer_model), t,
                          COMMAND)
    bin_dir, llama = t.bin_dir, t.llama
    vocab = SPM_DIR / "vocab.gguf"
    run([sys.executable, llama / "convert_hf_to_gguf.py", first_hf, "--vocab-only", "--outfile", vocab])
    tokenizer_summary = tokenizer_goldens(bin_dir, vocab, first_hf, tokenizer_model)
    write_manifest(SPM_DIR, COMMAND, {
        "tool": "sentencepiece (training), llama.cpp llama-tokenize, HF tokenizers, sentencepiece",
        "commands": {
            "vocab": "python convert_hf_to_gguf.py golden/models/tiny-gqa/hf --vocab-only",
            "tokenize": "llama-tokenize -m vocab.gguf -f TEXT --ids --log-disable --no-escape "
                        "[--no-parse-special]",
        },
        "vocab_size": VOCAB,
        "corpus": "4000 lines from corpus(default_rng(seed)), not stored",
        "corpus_sha256": corpus_sha,
    })
    bpe_summary = bpe_goldens(bin_dir, train_bpe())
    write_manifest(BPE_DIR, COMMAND, {
        "tool": "HF tokenizers (BPE training, encoding), gguf-py (vocab GGUF), "
                "llama.cpp llama-tokenize",
        "commands": {
            "tokenize": "llama-tokenize -m vocab.gguf -f TEXT --ids --log-disable --no-escape "
                        "[--no-parse-special]",
        },
        "vocab_size": BPE_VOCAB,
        "corpus": "4000 lines from corpus(default_rng(seed)), not stored",
        "corpus_sha256": corpus_sha,
    })
    (MODELS / "AGREEMENT.md").write_text(
        "# Measured agreement between the references\n\n"
        f"Written by `{COMMAND}` ({today()}). Logits compared per position; KL is KL(reference || "
        "compared) over the softmax, in float64.\n\n"
        "| model | compared | max abs | KL mean | KL max | top-1 | cosine min |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Tokenizer (golden/tokenizer/spm/tokenize.json): {tokenizer_summary}\n\n"
        f"Byte-level BPE tokenizer (golden/tokenizer/bpe/tokenize.json): {bpe_summary}\n")
    log("done")


# What `new` tokenizes when neither --prompt nor --tokens is given: plain prose with digits,
# punctuation and a newline, long enough for positions past a small sliding window.
DEFAULT_PROMPT = (
    "The quick brown fox jumps over the lazy dog. In 2026, engines still disagree about RoPE, "
    "quantization scales and the last token of a prompt;\nthis golden set pins what the "
    "reference implementations compute, position by position."
)


def spec_from_config(name: str, hf: Path, quants: tuple[str, ...], n_tokens: int) -> Spec:
    """A user checkpoint's shape as a Spec, from its config.json as HF resolves it. A family
    the goldens do not support is refused, named."""
    from transformers import AutoConfig

    raw = json.loads((hf / "config.json").read_text())
    arch = (raw.get("architectures") or [None])[0]
    family = next((f for f, (_, cls) in FAMILIES.items() if cls == arch), None)
    if family is None:
        supported = ", ".join(cls for _, cls in FAMILIES.values())
        sys.exit(f"{hf}: architecture {arch!r} is not one the goldens support ({supported})")
    cfg = AutoConfig.from_pretrained(hf)
    get = lambda key, default=None: getattr(cfg, key, default)  # noqa: E731
    hidden, heads = cfg.hidden_size, cfg.num_attention_heads
    head_dim = get("head_dim")
    if family == "qwen2":
        qkv_bias = True
    elif family in ("llama", "qwen3"):
        qkv_bias = bool(get("attention_bias", False))
    else:
        qkv_bias = False
    window = get("sliding_window") if family in ("mistral", *GEMMA) else None
    dtype = raw.get("torch_dtype") or raw.get("dtype") or "float32"
    return Spec(
        name=name, purpose=f"a user's {arch} checkpoint ({hf.name})", hidden=hidden,
        layers=cfg.num_hidden_layers, heads=heads,
        kv_heads=get("num_key_value_heads") or heads, ffn=cfg.intermediate_size,
        tied=bool(get("tie_word_embeddings", False)), ctx=get("max_position_embeddings"),
        rope_theta=float(get("rope_theta", 10000.0)), eps=float(get("rms_norm_eps")),
        hf_dtype=dtype, n_tokens=n_tokens, quants=quants, op_trace=True, family=family,
        head_dim=None if head_dim in (None, hidden // heads) else head_dim,
        rope_scaling=get("rope_scaling"), qkv_bias=qkv_bias, sliding_window=window,
        # A real model's rows are sized as it was trained: where a K-quant cannot take a row,
        # llama-quantize's fallback is what users get, recorded in the manifest.
        allow_fallback=True,
        original_context=get("original_max_position_embeddings"),
        attn_softcap=get("attn_logit_softcapping"), final_softcap=get("final_logit_softcapping"))


def checkpoint_params(hf: Path) -> int:
    """Parameters in the checkpoint's safetensors files, from their headers alone."""
    count = 0
    files = sorted(hf.glob("*.safetensors"))
    if not files:
        sys.exit(f"{hf}: no .safetensors files (the goldens read safetensors checkpoints only)")
    for f in files:
        with f.open("rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(n))
        for key, t in header.items():
            if key != "__metadata__":
                count += int(np.prod(t["shape"], dtype=np.int64))
    return count


def check_memory(params: int, dtype: str, n_tokens: int, hidden: int, layers: int) -> None:
    """Refuses before loading what would not fit: HF holds the weights in `dtype` (plus a copy
    while it converts a shard) and, with hooks, the activations of every op."""
    width = 8 if dtype == "float64" else 4
    need = params * (width + 4) + 40 * n_tokens * hidden * layers * width + (1 << 30)
    avail = None
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            avail = int(line.split()[1]) * 1024
    gib = lambda b: f"{b / (1 << 30):.1f} GiB"  # noqa: E731
    log(f"memory: HF in {dtype} needs about {gib(need)} for {params / 1e6:.1f}M parameters; "
        f"{gib(avail) if avail else 'unknown'} available")
    if avail is not None and need > avail:
        hint = (f"; with --dtype f32 it needs about "
                f"{gib(params * 8 + 40 * n_tokens * hidden * layers * 4 + (1 << 30))}"
                if dtype == "float64" else "")
        sys.exit(f"not enough memory: HF in {dtype} needs about {gib(need)}, {gib(avail)} "
                 f"available{hint}")


def new_set(args: argparse.Namespace) -> None:
    """`new NAME --hf DIR`: a golden set for a user's checkpoint, written to OUT/NAME."""
    from transformers import AutoTokenizer

    hf = Path(args.hf).resolve()
    if not (hf / "config.json").is_file():
        sys.exit(f"{hf}: no config.json (an HF checkpoint directory is expected)")
    quants = tuple(q for q in args.quant.split(",") if q)
    unknown = [q for q in quants if q not in QUANTS]
    if unknown:
        sys.exit(f"--quant {','.join(unknown)}: not a known quantization ({', '.join(QUANTS)})")
    # The family first: an unsupported one is refused before anything reads its tokenizer.
    spec = spec_from_config(args.name, hf, quants, 0)
    if args.tokens:
        tokens = [int(t) for t in args.tokens.split(",")]
        prompt = None
    else:
        prompt = args.prompt if args.prompt is not None else DEFAULT_PROMPT
        tokens = AutoTokenizer.from_pretrained(hf)(prompt)["input_ids"]
    if not tokens:
        sys.exit("no tokens to run")
    spec = dataclasses.replace(spec, n_tokens=len(tokens))
    dtype = {"f64": "float64", "f32": "float32"}[args.dtype]
    check_memory(checkpoint_params(hf), dtype, len(tokens), spec.hidden, spec.layers)
    folder = Path(args.out).resolve() / args.name
    if folder.exists():
        if not args.force:
            sys.exit(f"{folder} exists (--force replaces it)")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    inputs = {p.relative_to(hf).as_posix(): sha256(p)
              for p in sorted(hf.rglob("*")) if p.is_file()}
    command = " ".join(["uv run golden/scripts/models.py", *map(shlex.quote, sys.argv[1:])])
    rows = build_set(spec, folder, hf, tokens, tools(), command, dtype, proofs=False,
                     provenance={"checkpoint": {"path": str(hf), "sha256": inputs},
                                 "prompt": prompt})
    print("\n".join(rows))
    log(f"golden set {args.name}: {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    new = sub.add_parser(
        "new", help="a golden set for a local HF checkpoint of a supported family",
        description="Runs the pinned references on a local HF checkpoint: HF transformers "
        "(float64, or float32 with --dtype f32) and llama.cpp (convert, quantize, batch and "
        "incremental logits, eval-callback traces of every file), and writes a golden set with "
        "the committed sets' manifest and provenance to OUT/NAME.")
    new.add_argument("name")
    new.add_argument("--hf", required=True, help="the HF checkpoint directory")
    new.add_argument("--quant", default="Q8_0,Q4_K_M",
                     help=f"comma-separated quantizations ({', '.join(QUANTS)})")
    new.add_argument("--prompt", help="text to run, tokenized by the checkpoint's HF tokenizer")
    new.add_argument("--tokens", help="comma-separated token ids to run instead of a prompt")
    new.add_argument("--dtype", choices=["f64", "f32"], default="f64",
                     help="HF's precision (f32 for checkpoints too large for float64)")
    new.add_argument("--out", default=str(GOLDEN / "local"), help="where the set's folder goes")
    new.add_argument("--force", action="store_true", help="replace an existing set")
    args = parser.parse_args()
    if args.command == "new":
        if args.prompt is not None and args.tokens:
            parser.error("--prompt and --tokens exclude each other")
        new_set(args)
    else:
        generate()


if __name__ == "__main__":
    main()
