# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "pip==26.3",
#     "cmake==4.4.5",
#     "ninja==1.13.2",
#     "numpy==2.2.6",
#     "safetensors==0.8.0",
# ]
# [tool.uv]
# exclude-newer = "2026-11-25T00:00:00Z"
# ///
"""llama.cpp's sampler chain on seeded random logits: what each stage (repetition penalty, top-k,
top-p, min-p, temperature) leaves of the candidates, and dist's probabilities, from
llama_sampling.cpp linked against the libllama the pinned llama-cpp-python sdist vendors.

    uv run golden/scripts/sampling.py

Writes golden/sampling/: logits.safetensors (the cases' logits, float32 [cases, vocab]),
cases.json (each case's settings and history, and llama.cpp's stages) and manifest.json. The
vocabulary is 2000 wide, more than the 1024 past which llama.cpp's top-p sorts only a partial
top-k first; the histories repeat tokens so that the penalty meets counts above one. The draw
itself is each engine's own (llama.cpp's uses std::mt19937); everything before it must match.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp import LLAMA_CPP_PYTHON, ROOT, build_tools, fetch_source, llama_commit, run, sha256  # noqa: E402

COMMAND = "uv run golden/scripts/sampling.py"
OUT = ROOT / "golden" / "sampling"
SEED = 20261202
VOCAB = 2000
# (name, last_n, repeat, top_k, top_p, min_p, temperature): common's defaults, then each stage
# alone or leading, and the settings where llama.cpp takes its other code paths (top-p and
# min-p on unsorted candidates when top-k is off).
CASES = [
    ("defaults", 64, 1.0, 40, 0.95, 0.05, 0.8),
    ("repeat-penalty", 32, 1.3, 40, 0.95, 0.05, 0.8),
    ("penalty-only", 64, 1.5, 0, 1.0, 0.0, 1.0),
    ("top-p-unsorted", 64, 1.0, 0, 0.9, 0.0, 1.0),
    ("top-p-narrow", 64, 1.2, 0, 0.5, 0.0, 0.7),
    ("min-p-unsorted", 64, 1.1, 0, 1.0, 0.1, 1.5),
    ("top-k-1", 64, 1.0, 1, 0.95, 0.05, 0.8),
    ("hot", 16, 1.05, 100, 0.99, 0.01, 2.0),
    ("min-p-after-top-p", 64, 1.0, 0, 0.97, 0.2, 0.6),
]


def log(msg: str) -> None:
    print(f"[sampling] {msg}", flush=True)


def today() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else \
        datetime.datetime.now(datetime.timezone.utc)
    return when.date().isoformat()


def build_sampling_tool() -> Path:
    """llama_sampling.cpp linked against the built libllama, as llamacpp.build_logits_tool
    builds llama-logits."""
    _, llama = fetch_source()
    bin_dir = build_tools([])
    exe = bin_dir / "llama-sampling"
    run(["g++", "-O2", "-std=c++17", f"-I{llama / 'include'}", f"-I{llama / 'ggml' / 'include'}",
         Path(__file__).parent / "llama_sampling.cpp", "-o", exe, f"-L{bin_dir}", "-lllama",
         "-lggml", "-lggml-base", f"-Wl,-rpath,{bin_dir}"])
    return exe


def main() -> None:
    from safetensors.numpy import save_file

    exe = build_sampling_tool()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    logits = rng.normal(0.0, 2.0, (len(CASES), VOCAB)).astype(np.float32)
    scratch = ROOT / "golden" / ".cache" / "sampling-logits.bin"
    cases = []
    for i, (name, last_n, repeat, top_k, top_p, min_p, temp) in enumerate(CASES):
        # A history that repeats tokens, including some of the highest-scoring ones.
        top = np.argsort(-logits[i])[:20]
        history = [int(t) for t in rng.choice(np.concatenate([top, rng.integers(0, VOCAB, 30)]),
                                              48)]
        logits[i].tofile(scratch)
        out = run([exe, scratch, ",".join(map(str, history)), last_n, repeat, 0.0, 0.0, top_k,
                   top_p, min_p, temp, SEED + i])
        result = json.loads(out.strip().splitlines()[-1])
        cases.append({
            "name": name,
            "settings": {"repeat_last_n": last_n, "repeat_penalty": repeat, "top_k": top_k,
                         "top_p": top_p, "min_p": min_p, "temperature": temp},
            "history": history,
            **result,
        })
        log(f"{name}: " + ", ".join(f"{s['name']} {len(s['ids'])}" for s in result["stages"]))
    scratch.unlink()
    save_file({"logits": logits}, str(OUT / "logits.safetensors"))
    (OUT / "cases.json").write_text(json.dumps({"vocab": VOCAB, "cases": cases}, indent=1) + "\n")
    files = sorted(p for p in OUT.iterdir() if p.name != "manifest.json")
    manifest = {
        "command": COMMAND,
        "script_sha256": sha256(Path(__file__)),
        "helper_sha256": sha256(Path(__file__).with_name("llamacpp.py")),
        "sources": {"golden/scripts/llama_sampling.cpp":
                    sha256(Path(__file__).with_name("llama_sampling.cpp"))},
        "generated": today(),
        "seed": SEED,
        "tool": "llama.cpp's samplers (llama_sampler_init_penalties, top_k, top_p, min_p, temp, "
                "dist; min_keep 0) through llama_sampling.cpp",
        "versions": {"numpy": version("numpy"), "safetensors": version("safetensors"),
                     "python": platform.python_version(),
                     "llama-cpp-python sdist": LLAMA_CPP_PYTHON,
                     "llama.cpp commit": llama_commit(),
                     "g++": subprocess.run(["g++", "-dumpfullversion"], capture_output=True,
                                           text=True).stdout.strip()},
        "machine": platform.machine(),
        "layout": {
            "logits.safetensors": "logits: float32 [cases, vocab], case i's logits in row i",
            "cases.json": "per case: name, settings, history (accepted by the penalty sampler, "
                          "oldest first), stages (name, sorted, ids and logits of the candidates "
                          "each stage leaves, in llama.cpp's array order), probs (dist's, of the "
                          "final candidates), selected (llama.cpp's own draw, for information)",
        },
        "files": {p.name: {"sha256": sha256(p), "bytes": p.stat().st_size} for p in files},
    }
    manifest["files"]["logits.safetensors"]["tensors"] = {
        "logits": {"dtype": "float32", "shape": [len(CASES), VOCAB]},
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    log(f"{len(cases)} cases written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
