"""Shared by the golden scripts: the llama.cpp source vendored by the pinned llama-cpp-python
sdist, and its tools built with cmake and ninja from PyPI. Everything is cached under
golden/.cache (git-ignored) and reused. Import it from a script in this folder after
`sys.path.insert(0, str(Path(__file__).parent))`; the importing script pins pip, cmake and ninja.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

LLAMA_CPP_PYTHON = "0.3.36"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "golden" / ".cache"
# Portable x86-64-v3 binaries: the same results on any AVX2 machine, not only the builder's CPU.
PORTABLE = ["-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON"]


def run(cmd: list, stderr_too: bool = False, **kw) -> str:
    """Runs a command; its output (with stderr_too, stdout and stderr interleaved) is returned and
    also shown if the command fails."""
    print("+", " ".join(map(str, cmd)), flush=True)
    p = subprocess.run(list(map(str, cmd)), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT if stderr_too else subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr or ''}")
    return p.stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_source() -> tuple[Path, Path]:
    """The sdist (downloaded once) and its extracted vendor/llama.cpp folder."""
    sdist_dir = CACHE / "sdist"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    name = f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
    if not (sdist_dir / name).exists():
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "llama-cpp-python",
             f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", sdist_dir])
    src = CACHE / f"llama_cpp_python-{LLAMA_CPP_PYTHON}"
    if not src.exists():
        with tarfile.open(sdist_dir / name) as tar:
            tar.extractall(CACHE, filter="data")
    llama = src / "vendor" / "llama.cpp"
    # The sdist leaves out this pkg-config template; configuring ggml only copies it.
    (llama / "ggml" / "ggml.pc.in").touch()
    return sdist_dir / name, llama


def llama_commit() -> str:
    """The llama.cpp commit the sdist vendors, from the submodule record it ships."""
    src = CACHE / f"llama_cpp_python-{LLAMA_CPP_PYTHON}"
    return (src / ".git" / "modules" / "vendor" / "llama.cpp" / "HEAD").read_text().strip()


def build_tools(targets: list[str]) -> Path:
    """Builds llama.cpp's shared libraries and `targets`; returns the folder holding the binaries."""
    _, llama = fetch_source()
    build = CACHE / "llama-build"
    run(["cmake", "-S", llama, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
         "-DBUILD_SHARED_LIBS=ON", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
         "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_CURL=OFF", *PORTABLE])
    run(["ninja", "-C", build, "llama", *targets])
    return build / "bin"


def build_logits_tool() -> Path:
    """Our llama-logits (llama_logits.cpp) linked against the built libllama."""
    _, llama = fetch_source()
    bin_dir = build_tools([])
    exe = bin_dir / "llama-logits"
    run(["g++", "-O2", "-std=c++17", f"-I{llama / 'include'}", f"-I{llama / 'ggml' / 'include'}",
         Path(__file__).parent / "llama_logits.cpp", "-o", exe, f"-L{bin_dir}", "-lllama", "-lggml",
         "-lggml-base", f"-Wl,-rpath,{bin_dir}"])
    return exe
