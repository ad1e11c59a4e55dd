# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "pip==26.3",
#     "cmake==4.4.5",
#     "ninja==1.13.2",
# ]
# [tool.uv]
# exclude-newer = "2026-11-25T00:00:00Z"
# ///
"""Builds llama.cpp's tools from the pinned llama-cpp-python sdist (cached in golden/.cache) for
the benchmarks that time realizar against them, and prints where they are:

    uv run --locked golden/scripts/llama_tools.py llama-tokenize [more targets]
    uv run --locked golden/scripts/llama_tools.py --program llama_tokenize_bench
    uv run --locked golden/scripts/llama_tools.py --program oracle/adapters/llamacpp/llama_engine.cpp

(--program builds one of our programs, in golden/scripts or at a path ending in .cpp, linked
against the built libllama.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp import build_tools, fetch_source, run  # noqa: E402


def build_program(source: str) -> Path:
    """One of our programs (golden/scripts/<source>.cpp, or the file <source> ending in .cpp)
    linked against the built libllama, as bin/<its name with dashes>. (llamacpp.build_logits_tool links llama-logits the same way; this
    lives here because llamacpp.py's sha256 is recorded in the golden manifests it helps make.)"""
    path = Path(source).resolve() if source.endswith(".cpp") else Path(__file__).parent / f"{source}.cpp"
    _, llama = fetch_source()
    bin_dir = build_tools([])
    exe = bin_dir / path.stem.replace("_", "-")
    run(["g++", "-O2", "-std=c++17", f"-I{llama / 'include'}", f"-I{llama / 'ggml' / 'include'}",
         path, "-o", exe, f"-L{bin_dir}", "-lllama", "-lggml",
         "-lggml-base", f"-Wl,-rpath,{bin_dir}"])
    return exe


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--program":
        print(build_program(args[1]))
        return
    if not args:
        sys.exit("usage: llama_tools.py TARGET [TARGET ...] | --program SOURCE")
    print(build_tools(args))


if __name__ == "__main__":
    main()
