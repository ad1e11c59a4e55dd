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
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp import build_tools  # noqa: E402


def main() -> None:
    targets = sys.argv[1:]
    if not targets:
        sys.exit("usage: llama_tools.py TARGET [TARGET ...] (e.g. llama-tokenize)")
    print(build_tools(targets))


if __name__ == "__main__":
    main()
