# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "gguf==0.19.0",
#     "numpy==2.3.5",
#     "safetensors==0.8.0",
# ]
# ///
"""Dequantization and quantization goldens from gguf-py, the numpy reference that llama.cpp tests
bit-exact against ggml.

For every block format: seeded random blocks, half of them raw random bytes (any f16 scale,
NaN and infinity included) and half with finite, realistic f16 scales, and gguf-py's dequantized
values. For Q4_0 and Q8_0: seeded f32 rows and gguf-py's quantized bytes. For `realizar dump`: a
GGUF written by gguf-py's GGUFWriter and each of its tensors read back by GGUFReader, dequantized
and saved with np.save. Everything goes to golden/quant/ with manifest.json recording provenance.

    uv run golden/scripts/quant_golden.py [--out golden/quant]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf import GGUFReader, GGUFWriter, quants
from safetensors.numpy import save_file

SEED = 20261126
BLOCKS_RAW = 512
BLOCKS_REALISTIC = 512
# Plain types are 1-element "blocks"; they get this many elements per half instead.
PLAIN_ELEMENTS = 16384
QUANT_ROWS = 64
QUANT_COLS = 256

# Byte offsets of each format's f16 scale fields inside a block (ggml-common.h layouts).
SCALE_FIELDS: dict[T, list[int]] = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q2_K: [80, 82],
    T.Q3_K: [108],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}
PLAIN = [T.F16, T.BF16]


def realistic_scales(rng: np.random.Generator, n: int) -> np.ndarray:
    """Finite f16 scales spread over the magnitudes real models use (1e-5 .. 1e-1), both signs."""
    mag = 10.0 ** rng.uniform(-5, -1, size=n)
    sign = np.where(rng.random(n) < 0.1, -1.0, 1.0)
    return (mag * sign).astype(np.float16)


def format_blocks(qtype: T, rng: np.random.Generator) -> np.ndarray:
    _, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(BLOCKS_RAW, type_size), dtype=np.uint8)
    real = rng.integers(0, 256, size=(BLOCKS_REALISTIC, type_size), dtype=np.uint8)
    for off in SCALE_FIELDS[qtype]:
        real[:, off : off + 2] = realistic_scales(rng, BLOCKS_REALISTIC).view(np.uint8).reshape(-1, 2)
    return np.concatenate([raw, real], axis=0)


def plain_values(qtype: T, rng: np.random.Generator) -> np.ndarray:
    raw = rng.integers(0, 256, size=(PLAIN_ELEMENTS, 2), dtype=np.uint8)
    values = rng.normal(0.0, 0.05, size=PLAIN_ELEMENTS).astype(np.float32)
    real = np.ascontiguousarray(quants.quantize(values, qtype)).view(np.uint8).reshape(PLAIN_ELEMENTS, 2)
    return np.concatenate([raw, real], axis=0)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "quant"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    files = {}

    def write(name: str, tensors: dict[str, np.ndarray], meta: dict) -> None:
        path = out / f"{name}.safetensors"
        save_file(tensors, str(path))
        files[path.name] = {
            "sha256": sha256(path),
            "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in tensors.items()},
            **meta,
        }
        print(f"  {path.name}: " + ", ".join(f"{k} {v.dtype}{list(v.shape)}" for k, v in tensors.items()))

    with np.errstate(all="ignore"):  # raw blocks hold NaN/inf scales on purpose
        for qtype in PLAIN + list(SCALE_FIELDS):
            blocks = plain_values(qtype, rng) if qtype in PLAIN else format_blocks(qtype, rng)
            dequant = quants.dequantize(blocks, qtype).astype(np.float32)
            half = blocks.shape[0] // 2
            write(
                f"dequant_{qtype.name}",
                {"blocks": np.ascontiguousarray(blocks), "dequant": np.ascontiguousarray(dequant)},
                {"kind": "dequantize", "type": qtype.name, "raw_blocks": half, "realistic_blocks": half},
            )

        # F32 last, so adding it left every earlier file unchanged: raw bit patterns must come
        # back untouched (NaN payloads and signed zeros included).
        raw32 = rng.integers(0, 256, size=(PLAIN_ELEMENTS, 4), dtype=np.uint8)
        real32 = rng.normal(0.0, 0.05, size=PLAIN_ELEMENTS).astype(np.float32).view(np.uint8).reshape(-1, 4)
        blocks32 = np.concatenate([raw32, real32], axis=0)
        write(
            "dequant_F32",
            {"blocks": blocks32, "dequant": quants.dequantize(blocks32, T.F32).astype(np.float32)},
            {"kind": "dequantize", "type": "F32", "raw_blocks": PLAIN_ELEMENTS, "realistic_blocks": PLAIN_ELEMENTS},
        )

        for qtype in (T.Q4_0, T.Q8_0):
            # Weights-like rows: mostly small values with a few outliers, as in trained models.
            x = rng.normal(0.0, 0.04, size=(QUANT_ROWS, QUANT_COLS)).astype(np.float32)
            x[rng.random(x.shape) < 0.01] *= 20
            q = quants.quantize(x, qtype)
            write(
                f"quantize_{qtype.name}",
                {"input": x, "quantized": np.ascontiguousarray(q)},
                {"kind": "quantize", "type": qtype.name},
            )

    # `realizar dump` golden: tensors of several types and ranks, numpy shape = GGUF dims reversed.
    dump_specs = [
        ("blk.0.attn_q.weight", T.Q4_K, (3, 512)),
        ("blk.0.ffn_down.weight", T.Q6_K, (2, 256)),
        ("output.weight", T.Q8_0, (4, 64)),
        ("token_embd.weight", T.F16, (5, 8)),
        ("blk.0.attn_norm.weight", T.F32, (16,)),
        ("blk.0.ffn_gate.weight", T.BF16, (2, 3, 4)),
        ("blk.0.attn_k.weight", T.Q5_K, (2, 256)),
    ]
    gguf_path = out / "dump.gguf"
    w = GGUFWriter(str(gguf_path), arch="llama")
    for name, qtype, shape in dump_specs:
        if qtype in (T.F32,):
            w.add_tensor(name, rng.normal(0, 0.05, size=shape).astype(np.float32))
        elif qtype in PLAIN:
            vals = rng.normal(0, 0.05, size=shape).astype(np.float32)
            raw = np.ascontiguousarray(quants.quantize(vals, qtype)).view(np.uint8)
            w.add_tensor(name, raw.reshape(*shape[:-1], -1), raw_dtype=qtype)
        else:
            n_blocks = int(np.prod(shape)) // GGML_QUANT_SIZES[qtype][0]
            blocks = format_blocks(qtype, rng)[BLOCKS_RAW : BLOCKS_RAW + n_blocks]
            w.add_tensor(name, blocks.reshape(*shape[:-1], -1), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    files[gguf_path.name] = {"sha256": sha256(gguf_path), "kind": "gguf written by gguf.GGUFWriter"}
    for t in GGUFReader(str(gguf_path)).tensors:
        values = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        path = out / f"dump_{t.name}.npy"
        np.save(path, values)
        files[path.name] = {
            "sha256": sha256(path),
            "kind": "dump",
            "tensor": t.name,
            "type": t.tensor_type.name,
            "shape": list(values.shape),
        }
        print(f"  {path.name}: {t.tensor_type.name} {list(values.shape)}")

    manifest = {
        "tool": "gguf-py (gguf.quants)",
        "versions": {
            "gguf": version("gguf"),
            "numpy": version("numpy"),
            "safetensors": version("safetensors"),
            "python": platform.python_version(),
        },
        "command": "uv run golden/scripts/quant_golden.py",
        "script_sha256": sha256(Path(__file__)),
        "seed": SEED,
        "inputs": "seeded numpy.random.default_rng; no input files",
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(files)} golden files and manifest.json to {out}")


if __name__ == "__main__":
    sys.exit(main())
