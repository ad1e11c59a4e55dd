# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "pip==26.3",
#     "cmake==4.4.5",
#     "ninja==1.13.2",
#     "numpy==2.3.5",
#     "safetensors==0.8.0",
# ]
# ///
"""K-quant quantization goldens from ggml's reference quantizers.

gguf-py cannot quantize K-quants, so their truth is ggml itself: quantize_row_{q2,q3,q4,q5,q6,
q8}_K_ref, the functions llama-quantize runs when no imatrix is given, called by quantize_ref.c
on seeded f32 blocks chosen to reach every branch: ordinary and heavy-tailed weights, blocks
whose sub-blocks are all positive or all negative, constant sub-blocks, zeros, values below
ggml's group epsilon, integer values that land on rounding ties, and lone spikes. ggml is built
from the llama.cpp that the pinned llama-cpp-python sdist vendors (the build is shared with
ggml_quantize_fns.py and cached in golden/.cache). Writes golden/ggml/quantize/: input.safetensors
(the f32 blocks), quantize_<TYPE>.safetensors (ggml's bytes) and manifest.json.

    uv run golden/scripts/ggml_quantize_ref.py
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
from safetensors.numpy import save

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ggml_quantize_fns import build as build_ggml  # noqa: E402
from llamacpp import LLAMA_CPP_PYTHON, ROOT, fetch_source, run, sha256  # noqa: E402

SEED = 20261130
QK_K = 256
# (name, type size in bytes) as ggml-common.h lays the blocks out.
TYPES = [("Q2_K", 84), ("Q3_K", 110), ("Q4_K", 144), ("Q5_K", 176), ("Q6_K", 210), ("Q8_K", 292)]
OUT = ROOT / "golden" / "ggml" / "quantize"


def blocks(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, int]]:
    """Seeded f32 blocks of 256, by kind; each kind aims at a branch of the quantizers."""
    kinds: dict[str, np.ndarray] = {}

    def per_sub(n: int, sub: int, fill) -> np.ndarray:
        return np.stack([np.concatenate([fill(sub) for _ in range(QK_K // sub)]) for _ in range(n)])

    scale = np.exp(rng.uniform(np.log(1e-3), np.log(1e3), size=(256, 1)))
    kinds["normal"] = rng.standard_normal((256, QK_K)) * scale
    tails = rng.standard_t(2, size=(128, QK_K)) * 0.02
    kinds["heavy_tailed"] = tails
    kinds["positive"] = np.abs(1.0 + 0.1 * rng.standard_normal((64, QK_K)))
    kinds["negative"] = -rng.uniform(0.01, 2.0, size=(32, QK_K))
    kinds["constant_sub_blocks"] = per_sub(32, 16, lambda s: np.full(s, rng.normal()))
    kinds["constant_sub_blocks_32"] = per_sub(16, 32, lambda s: np.full(s, rng.normal()))
    sparse = rng.standard_normal((64, QK_K))
    sparse[rng.uniform(size=(64, QK_K // 16)).repeat(16, axis=1) < 0.5] = 0.0
    sparse[:4] = 0.0
    kinds["zero_sub_blocks"] = sparse
    tiny = rng.standard_normal((32, QK_K)) * 1e-20
    tiny[::2, : QK_K // 2] = rng.standard_normal((16, QK_K // 2))
    kinds["below_epsilon"] = tiny
    kinds["integer_ties"] = rng.integers(-8, 9, size=(64, QK_K)).astype(np.float64)
    kinds["half_integer_ties"] = rng.integers(-16, 17, size=(32, QK_K)) / 2.0
    spikes = np.zeros((32, QK_K))
    spikes[np.arange(32), rng.integers(0, QK_K, size=32)] = rng.normal(size=32) * 10
    spikes[16:] += rng.standard_normal((16, QK_K)) * 1e-3
    kinds["spike"] = spikes
    x = np.concatenate(list(kinds.values())).astype(np.float32)
    return x, {k: len(v) for k, v in kinds.items()}


def main() -> None:
    sdist, llama = fetch_source()
    test_exe, ggml = build_ggml(llama)
    build_dir = test_exe.parent
    exe = build_dir / "quantize-ref"
    # ggml-base is C++ with OpenMP: compile the C helper as C, link as C++ with OpenMP.
    run(["g++", "-O2", f"-I{llama / 'ggml' / 'include'}", f"-I{llama / 'ggml' / 'src'}",
         "-x", "c", Path(__file__).with_name("quantize_ref.c"), "-x", "none", "-o", exe,
         build_dir / "src" / "libggml-base.a", "-fopenmp", "-lpthread", "-lm"])

    x, kinds = blocks(np.random.default_rng(SEED))
    OUT.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict] = {}

    def write(name: str, tensors: dict[str, np.ndarray], **extra) -> None:
        data = save(tensors)
        (OUT / name).write_bytes(data)
        files[name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in tensors.items()},
            **extra,
        }

    write("input.safetensors", {"input": x}, kind="input", blocks_by_kind=kinds)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "input.f32"
        src.write_bytes(x.tobytes())
        for name, size in TYPES:
            dst = Path(tmp) / f"{name}.bin"
            run([exe, name, x.size, src, dst])
            q = np.frombuffer(dst.read_bytes(), dtype=np.uint8).reshape(len(x), size)
            write(f"quantize_{name}.safetensors", {"quantized": q}, kind="quantize", type=name,
                  function=f"quantize_row_{name.lower().replace('_k', '_K')}_ref")
    manifest = {
        "tool": "ggml quantize_row_*_ref via golden/scripts/quantize_ref.c",
        "ggml": ggml,
        "source": f"llama-cpp-python=={LLAMA_CPP_PYTHON} sdist (vendor/llama.cpp)",
        "source_sha256": sha256(sdist),
        "command": "uv run golden/scripts/ggml_quantize_ref.py",
        "script_sha256": sha256(Path(__file__)),
        # What else made these bytes; `oracle golden check` holds each file to its hash.
        "sources": {f"golden/scripts/{n}": sha256(Path(__file__).with_name(n))
                    for n in ("quantize_ref.c", "ggml_quantize_fns.py", "llamacpp.py")},
        "compiler": run(["g++", "--version"]).splitlines()[0],
        "seed": SEED,
        "inputs": "seeded numpy.random.default_rng; no input files",
        "versions": {"numpy": version("numpy"), "safetensors": version("safetensors"),
                     "python": ".".join(map(str, sys.version_info[:3]))},
        "files": files,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({len(files)} files, {len(x)} blocks)")


if __name__ == "__main__":
    main()
