# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "pip==26.3",
#     "cmake==4.4.5",
#     "ninja==1.13.2",
# ]
# ///
"""ggml's own quantization and dot-product errors, measured by its test-quantize-fns.

Builds ggml's CPU backend and tests/test-quantize-fns.cpp from the llama.cpp source that the
PyPI sdist of llama-cpp-python vendors (pinned below), runs `test-quantize-fns -v`, and writes
golden/ggml/quantize_fns.json: per type, ggml's total quantization error and dot-product error on
its test data (0.1 + 2 cos(i + offset), 4096 values). realizar's kernel tests hold their errors to
these figures. The build is cached in golden/.cache (git-ignored).

    uv run golden/scripts/ggml_quantize_fns.py
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp import CACHE, LLAMA_CPP_PYTHON, PORTABLE, ROOT, fetch_source, run, sha256  # noqa: E402

# x86-64-v3: runs on any AVX2 machine, so the figures do not depend on the builder's CPU.
CMAKE_FLAGS = ["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", *PORTABLE,
               "-DGGML_BUILD_TESTS=OFF", "-DGGML_BUILD_EXAMPLES=OFF"]
OUT = ROOT / "golden" / "ggml" / "quantize_fns.json"


def build(llama: Path) -> tuple[Path, str]:
    build_dir = CACHE / "ggml-build"
    log = run(["cmake", "-S", str(llama / "ggml"), "-B", str(build_dir), "-G", "Ninja", *CMAKE_FLAGS])
    commit = re.search(r"ggml commit:\s*(\S+)", log)
    version = re.search(r"ggml version:\s*(\S+)", log)
    run(["ninja", "-C", str(build_dir), "ggml"])
    exe = build_dir / "test-quantize-fns"
    libs = [build_dir / "src" / f"libggml{s}.a" for s in ("", "-cpu", "-base")]
    run(["g++", "-O2", "-std=c++17", f"-I{llama / 'ggml' / 'include'}", f"-I{llama / 'ggml' / 'src'}",
         str(llama / "tests" / "test-quantize-fns.cpp"), "-o", str(exe), *map(str, libs),
         "-fopenmp", "-lpthread", "-lm"])
    return exe, f"{version.group(1) if version else '?'} (commit {commit.group(1) if commit else '?'})"


def main() -> None:
    sdist, llama = fetch_source()
    exe, ggml = build(llama)
    out = run([str(exe), "-v"])
    errors: dict[str, dict[str, float]] = {}
    for m in re.finditer(r"^\s*(\S+) (absolute quantization error|dot product error):\s+\w+ \(([\d.]+)\)", out, re.M):
        kind = "quantization_error" if m.group(2).startswith("absolute") else "dot_product_error"
        errors.setdefault(m.group(1), {})[kind] = float(m.group(3))
    if not errors:
        sys.exit("test-quantize-fns printed no errors:\n" + out)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "tool": "ggml tests/test-quantize-fns.cpp -v",
        "ggml": ggml,
        "source": f"llama-cpp-python=={LLAMA_CPP_PYTHON} sdist (vendor/llama.cpp)",
        "source_sha256": sha256(sdist),
        "cmake_flags": CMAKE_FLAGS,
        "compiler": run(["g++", "--version"]).splitlines()[0],
        "machine": platform.machine(),
        "command": "uv run golden/scripts/ggml_quantize_fns.py",
        "script_sha256": sha256(Path(__file__)),
        "errors": errors,
    }, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({len(errors)} types)")
    if shutil.which("git"):
        print(run(["git", "-C", str(ROOT), "status", "--short", str(OUT)]))


if __name__ == "__main__":
    main()
