# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "pip==26.3",
#     "cmake==4.4.5",
#     "ninja==1.13.2",
#     "numpy==2.2.6",
#     "pyyaml==6.0.3",
#     "tqdm==4.67.1",
#     "requests==2.32.5",
# ]
# [tool.uv]
# exclude-newer = "2026-11-25T00:00:00Z"
# ///
"""The end-to-end benchmark's model: TinyLlama-1.1B shapes (hidden 2048, 22 layers, 32 heads,
4 KV heads, FFN 5632, vocab 32000) with seeded random weights, written as F16 GGUF by the
gguf-py that llama.cpp vendors, then quantized to Q4_K_M and Q8_0 by llama-quantize. Also builds
llama-bench for this CPU (GGML_NATIVE=ON, in a build folder of its own): the comparison is with
the llama.cpp this machine would run, not the portable build the goldens use. Nothing here is a golden: the files go to target/bench-e2e (git-ignored) and are
reused while this script is unchanged.

    uv run golden/scripts/bench_model.py      # prints the folder; `make bench-e2e` runs it
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp import CACHE, ROOT, build_tools, fetch_source, llama_commit, run  # noqa: E402

OUT = ROOT / "target" / "bench-e2e"
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, VOCAB, CTX = 2048, 22, 32, 4, 5632, 32000, 2048
SEED = 20261126


def build_native_bench() -> Path:
    """llama-bench built for this CPU (GGML_NATIVE=ON: its AVX-512 and VNNI where it has them) in a
    build folder of its own: the llama.cpp a user of this machine would build, which is what a
    speed comparison runs against. (Here rather than in llamacpp.py, whose hash the goldens
    record.) Returns the binary."""
    _, llama = fetch_source()
    build = CACHE / "llama-build-native"
    run(["cmake", "-S", llama, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
         "-DBUILD_SHARED_LIBS=ON", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
         "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_CURL=OFF", "-DGGML_NATIVE=ON"])
    run(["ninja", "-C", build, "llama-bench"])
    return build / "bin" / "llama-bench"


def write_f16(path: Path) -> None:
    import gguf

    rng = np.random.default_rng(SEED)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(LAYERS)
    w.add_context_length(CTX)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    # A SentencePiece-style vocabulary: specials, the 256 byte tokens, then filler pieces.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"\u2581t{i}" for i in range(VOCAB - len(tokens))]
    types = [2, 3, 3] + [6] * 256 + [1] * (VOCAB - 259)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([-float(i) for i in range(VOCAB)])
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def mat(rows: int, cols: int, std: float = 0.02) -> np.ndarray:
        return (rng.standard_normal((rows, cols), dtype=np.float32) * std).astype(np.float16)

    def norm() -> np.ndarray:
        return (1.0 + rng.uniform(-0.2, 0.2, HIDDEN)).astype(np.float32)

    head_dim = HIDDEN // HEADS
    w.add_tensor("token_embd.weight", mat(VOCAB, HIDDEN))
    for i in range(LAYERS):
        w.add_tensor(f"blk.{i}.attn_norm.weight", norm())
        w.add_tensor(f"blk.{i}.attn_q.weight", mat(HIDDEN, HIDDEN))
        w.add_tensor(f"blk.{i}.attn_k.weight", mat(KV_HEADS * head_dim, HIDDEN))
        w.add_tensor(f"blk.{i}.attn_v.weight", mat(KV_HEADS * head_dim, HIDDEN))
        w.add_tensor(f"blk.{i}.attn_output.weight", mat(HIDDEN, HIDDEN))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", norm())
        w.add_tensor(f"blk.{i}.ffn_gate.weight", mat(FFN, HIDDEN))
        w.add_tensor(f"blk.{i}.ffn_up.weight", mat(FFN, HIDDEN))
        w.add_tensor(f"blk.{i}.ffn_down.weight", mat(HIDDEN, FFN))
    w.add_tensor("output_norm.weight", norm())
    w.add_tensor("output.weight", mat(VOCAB, HIDDEN))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    started = time.time()
    _, llama = fetch_source()
    sys.path.insert(1, str(llama / "gguf-py"))
    bin_dir = build_tools(["llama-quantize"])
    native_bench = build_native_bench()
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = OUT / "stamp.json"
    want = {"script_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
            "llama.cpp commit": llama_commit()}
    files = {t: OUT / f"tinyllama-shape-{t}.gguf" for t in ("F16", "Q4_K_M", "Q8_0")}
    fresh = stamp.exists() and json.loads(stamp.read_text()) == want and all(p.exists() for p in files.values())
    if not fresh:
        print("writing the F16 model (about 1.1 B parameters)", flush=True)
        write_f16(files["F16"])
        for t in ("Q4_K_M", "Q8_0"):
            print(f"quantizing to {t}", flush=True)
            run([bin_dir / "llama-quantize", files["F16"], files[t], t, "2"], stderr_too=True)
        stamp.write_text(json.dumps(want))
    (OUT / "llama-bench.path").write_text(str(native_bench))
    print(f"bench-e2e models ready in {OUT} ({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
