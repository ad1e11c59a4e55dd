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
"""llama.cpp's own tokenizer test vectors: the vocab-only GGUF files under models/ of the llama.cpp
that the pinned llama-cpp-python sdist vendors, each with its .inp (strings separated by
"\\n__ggml_vocab_test__\\n") and .out (one line of space-separated token ids per string, as
llama.cpp's test-tokenizer-0 expects them with add_special=false, parse_special=false).

    uv run golden/scripts/vocab.py

Copies them, byte for byte, to golden/vocab/<name>/ and writes golden/vocab/manifest.json with
the sdist's version and sha256 and every file's sha256 and size. Those ids are llama.cpp's
(generated upstream from the HF tokenizers and checked by its CI). Four vocabularies come
without test vectors (GENERATED): they get the test strings the others share as their .inp and,
as their .out, the ids the pinned llama.cpp's llama-tokenize gives each string with the flags
of test-tokenizer-0 (no special tokens added, none parsed); the manifest records the command,
the llama.cpp version and the sha256 of its inputs. The test vectors hold no
special-token text, so golden/vocab/special.json adds, per vocabulary, strings around its
special tokens and the ids the same llama.cpp's llama-tokenize (built from the sdist, cached in
golden/.cache) gives them without a BOS, with and without special-token parsing. pip, cmake and
ninja are pinned for llamacpp.fetch_source (it downloads the sdist when missing) and build_tools.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp import (  # noqa: E402
    LLAMA_CPP_PYTHON, ROOT, build_tools, fetch_source, llama_commit, run, sha256,
)

COMMAND = "uv run golden/scripts/vocab.py"
OUT = ROOT / "golden" / "vocab"
# The byte-level BPE vocabularies (Llama 3, Qwen2, GPT-2, MPT, Falcon, StarCoder, Refact,
# DeepSeek LLM and Coder, Command-R, Qwen3.5), Gemma 4's SentencePiece-style BPE, and the
# SentencePiece ones (Llama, Phi-3).
# BERT's WordPiece (bert-bge).
VOCABS = ["llama-bpe", "qwen2", "gpt-2", "llama-spm", "phi-3", "mpt", "falcon", "starcoder",
          "refact", "deepseek-llm", "deepseek-coder", "command-r", "qwen35", "gemma-4", "bert-bge"]
# Vocabularies without upstream test vectors: nomic-bert-moe's Unigram (XLM-R's, with its
# precompiled charsmap), GPT-NeoX and Aquila (byte-level BPE naming no pre-tokenizer, so
# llama.cpp's "default" one) and Baichuan (SentencePiece-style).
GENERATED = ["nomic-bert-moe", "gpt-neox", "aquila", "baichuan"]
# The test strings of convert_hf_to_gguf_update.py, which every vocabulary's .inp above but
# Qwen3.5's and Gemma 4's holds byte for byte (checked).
SHARED_INP = "ggml-vocab-llama-bpe.gguf.inp"
TOKENIZE_FLAGS = ["--ids", "--log-disable", "--no-escape", "--no-bos", "--no-parse-special"]
# Vocabularies with upstream ids that the same llama-tokenize run must reproduce exactly (one
# per tokenizer model), so the generated .out files stand for what test-tokenizer-0 checks.
CROSS_CHECK = ["bert-bge", "llama-spm", "gpt-2"]
SEPARATOR = "\n__ggml_vocab_test__\n"
# Llama 3's split matches contractions case-insensitively, GPT-2's does not. Only an upper-case
# contraction followed by more letters, and not after a space (" '" is a word of its own), tells
# them apart: "'The" is "'T" + "he" in Llama 3, one word in GPT-2. The test vectors' "'RE" and
# "'M " split alike either way.
CONTRACTIONS = "'The cat\n'Very good ('LLama) x'DOG \"'Me\" 'Sam's"
# Strings around each vocabulary's special tokens: control tokens, user-defined ones (MPT's runs
# of spaces, DeepSeek's single letters such as "ø"), the texts llama.cpp turns into control
# tokens (</s> in Phi-3 and Qwen3.5), and Phi-3's space stripping after them. The last string of
# the vocabularies added with llama.cpp's std::regex splits (and Qwen3.5's two) also holds text
# their test vectors leave untried, on which plausible mistakes change the ids: the order of the
# splits, categories outside ASCII, whitespace outside ASCII, combining marks in Qwen3.5's words,
# and a letter new in Unicode 16 (U+1C89) that llama.cpp's Unicode 15.1 tables leave unassigned.
SPECIAL = {
    "llama-bpe": [
        "<|begin_of_text|>Hello<|eot_id|>",
        "<|start_header_id|>user<|end_header_id|>\n\nHi there",
        "a<|reserved_special_token_0|> b",
        " <|end_of_text|> ",
        CONTRACTIONS,
    ],
    "qwen2": [
        "<|im_start|>user\nHi<|im_end|>\n",
        "a<|endoftext|>b",
        "x [PAD151646] y[PAD151647]",
        CONTRACTIONS,
    ],
    "gpt-2": [
        "a<|endoftext|>b",
        " <|endoftext|> ",
    ],
    "llama-spm": [
        "<s>Hello</s>",
        "<unk> x </s>  y",
    ],
    "phi-3": [
        "Hi</s>  there",
        "Hi  </s>\n x",
        "a<|end|>  b",
        "<s> x<unk>  y",
        "<|user|>\nHello<|end|>\n<|assistant|>\n Sure",
        "<|endoftext|>  z",
    ],
    "mpt": [
        "a<|endoftext|>b",
        "def f():\n        return 1",
        "x  <|padding|>   y",
    ],
    "falcon": [
        ">>TITLE<<Hi<|endoftext|>",
        " >>QUESTION<< What? >>ANSWER<< 42",
        ">>QUESTION<<\t\t・ \n \\ 。\" 1234567<|endoftext|>",
    ],
    "starcoder": [
        "<fim_prefix>def f():<fim_suffix>\n<fim_middle>",
        "<|endoftext|> x<jupyter_code>1",
        "<fim_prefix>\n\n\n０１２   3,000<fim_suffix>",
    ],
    "refact": [
        "<fim_prefix>a<fim_suffix>b<fim_middle>",
        "x[PAD49152] y<|endoftext|>",
        "<fim_prefix>\n\n\n０１２   3,000<fim_suffix>",
    ],
    "deepseek-llm": [
        "<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>",
        "Smørrebrød über ÿ",
        "<｜begin▁of▁sentence｜>'\u00a0: \t\t、,0 〇Xù \n ³Áÿ:é>\r\n",
    ],
    "deepseek-coder": [
        "<｜fim▁begin｜>a<｜fim▁hole｜>b<｜fim▁end｜>",
        "<|User|> Hi<|EOT|> ø",
        "<｜fim▁begin｜>\t\t・÷  ſ   한국어aſ<｜fim▁hole｜>",
    ],
    "command-r": [
        "<BOS_TOKEN><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hi<|END_OF_TURN_TOKEN|>",
        "<UNK> x <EOS_TOKEN>",
        "<|START_OF_TURN_TOKEN|>\n\n\n０１２ þ    ٣٤٥¡<|END_OF_TURN_TOKEN|>",
    ],
    "qwen35": [
        "<|im_start|>user\nHi<|im_end|>\n",
        "a</s>b<|endoftext|>",
        "x [PAD151646] y",
        "<|im_start|>हिन्दी'T Z\u0301<s>±<|im_end|>",
        "<|im_start|>a\u1c89's<|im_end|>",
    ],
    "bert-bge": [
        "[CLS] Hello [SEP] [MASK]. [UNK]",
        # Accents (stripped), a ligature, Greek final sigma, Hangul (its leading jamo), CJK,
        # controls, a zero-width space, a word longer than any token, non-ASCII symbols kept in
        # words, and U+1C89, which llama.cpp's Unicode 15.1 tables do not lowercase.
        "Ça VA? ÉLÈVE ﬁnal ΣΑΣ 한국 日本語\u0007x\u200by aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
        "€5 a©b \u1c89 İ",
    ],
    "nomic-bert-moe": [
        "<s>Hello</s> <mask> x <pad><unk>",
        "a   <mask>   b",
        # Unused tokens are segments too (their text wins over its pieces).
        "x [PAD250001]y",
        # Full-width letters, a ligature, circled digits, NBSP, tabs and line feeds, a
        # decomposed accent, an emoji, CJK, and U+FFFD.
        "ＡＢＣ ﬁ ①② a\u00a0b\t\tc\n\nd e\u0301 🦀 日本語 \ufffd  ",
    ],
    "gpt-neox": [
        "a<|endoftext|>b",
        "x  <|padding|>   y",
        "f(x)= 1234567 ¹²³`a ١٢٣٤",
    ],
    "aquila": [
        "<|endoftext|>Hi",
        "f(x)= 1234567 ¹²³`a 中文，标点。",
    ],
    "baichuan": [
        "<s>Hello</s>",
        "<unk> x </s>  y 中文",
    ],
    "gemma-4": [
        "<|turn>user\nHi<turn|>\n<|turn>model\n",
        "a</s>b<eos> <|tool_call>x<tool_call|><|\"|>",
        "x\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\ny \U0010fffd 日本",
    ],
}


def special_cases(bin_dir: Path) -> dict:
    """llama-tokenize's ids for SPECIAL, as {vocab: [{text, ids, ids_parse_special}]}."""
    scratch = ROOT / "golden" / ".cache" / "vocab-input.txt"
    out = {}
    for name, texts in SPECIAL.items():
        vocab = OUT / name / f"ggml-vocab-{name}.gguf"
        cases = []
        for text in texts:
            scratch.write_bytes(text.encode())
            case = {"text": text}
            for key, flags in (("ids", ["--no-parse-special"]), ("ids_parse_special", [])):
                printed = run([bin_dir / "llama-tokenize", "-m", vocab, "-f", scratch, "--ids",
                               "--log-disable", "--no-escape", "--no-bos", *flags])
                case[key] = json.loads(printed.strip().splitlines()[-1])
            cases.append(case)
        out[name] = cases
    return out


def tokenize_strings(bin_dir: Path, vocab: Path, strings: list[str]) -> str:
    """llama-tokenize's ids for each string, as an .out file: one line per string, each id
    preceded by a space (as convert_hf_to_gguf_update.py writes them)."""
    scratch = ROOT / "golden" / ".cache" / "vocab-input.txt"
    lines = []
    for text in strings:
        scratch.write_bytes(text.encode())
        printed = run([bin_dir / "llama-tokenize", "-m", vocab, "-f", scratch, *TOKENIZE_FLAGS])
        ids = json.loads(printed.strip().splitlines()[-1])
        lines.append("".join(f" {i}" for i in ids) + "\n")
    return "".join(lines)


def split_inp(raw: str) -> list[str]:
    """The strings of an .inp file, as test-tokenizer-0 reads them."""
    strings = []
    pos = 0
    while pos < len(raw):
        nxt = raw.find(SEPARATOR, pos)
        if nxt < 0:
            strings.append(raw[pos:])
            break
        strings.append(raw[pos:nxt])
        pos = nxt + len(SEPARATOR)
    return strings


def today() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else \
        datetime.datetime.now(datetime.timezone.utc)
    return when.date().isoformat()


def count_cases(inp: Path, out: Path) -> int:
    """The number of test strings, checked against the number of id lines as test-tokenizer-0
    reads them."""
    strings = split_inp(inp.read_bytes().decode("utf-8"))
    lines = out.read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(strings) != len(lines):
        sys.exit(f"{inp.name}: {len(strings)} strings but {len(lines)} id lines")
    return len(strings)


def main() -> None:
    sdist, llama = fetch_source()
    bin_dir = build_tools(["llama-tokenize"])
    models = llama / "models"
    if OUT.exists():
        shutil.rmtree(OUT)
    files = {}
    vocabs = {}
    for name in VOCABS:
        folder = OUT / name
        folder.mkdir(parents=True)
        base = f"ggml-vocab-{name}.gguf"
        for suffix in ("", ".inp", ".out"):
            src = models / (base + suffix)
            dst = folder / (base + suffix)
            shutil.copyfile(src, dst)
            files[f"{name}/{base + suffix}"] = {
                "from": f"vendor/llama.cpp/models/{base + suffix}",
                "sha256": sha256(dst),
                "bytes": dst.stat().st_size,
            }
        vocabs[name] = {"cases": count_cases(folder / (base + ".inp"), folder / (base + ".out")),
                        "ids": "upstream .out"}
        print(f"{name}: {vocabs[name]['cases']} strings", flush=True)
    shared = models / SHARED_INP
    for inp in sorted(models.glob("ggml-vocab-*.gguf.inp")):
        if inp.name not in ("ggml-vocab-qwen35.gguf.inp", "ggml-vocab-gemma-4.gguf.inp") and \
                inp.read_bytes() != shared.read_bytes():
            sys.exit(f"{inp.name} differs from {SHARED_INP}: which strings are shared?")
    strings = split_inp(shared.read_bytes().decode("utf-8"))
    tokenize = f"llama-tokenize -m VOCAB -f STRING {' '.join(TOKENIZE_FLAGS)}"
    for name in CROSS_CHECK:
        base = OUT / name / f"ggml-vocab-{name}.gguf"
        if tokenize_strings(bin_dir, base, strings) != Path(f"{base}.out").read_text():
            sys.exit(f"{name}: llama-tokenize's ids differ from the upstream .out")
        print(f"{name}: llama-tokenize reproduces the upstream .out", flush=True)
    for name in GENERATED:
        folder = OUT / name
        folder.mkdir(parents=True)
        base = f"ggml-vocab-{name}.gguf"
        if (models / (base + ".out")).exists():
            sys.exit(f"{base}.out now exists upstream: move {name} to VOCABS")
        for src, dst in ((models / base, folder / base), (shared, folder / (base + ".inp"))):
            shutil.copyfile(src, dst)
            files[f"{name}/{dst.name}"] = {
                "from": f"vendor/llama.cpp/models/{src.name}",
                "sha256": sha256(dst),
                "bytes": dst.stat().st_size,
            }
        out = folder / (base + ".out")
        out.write_text(tokenize_strings(bin_dir, folder / base, strings))
        files[f"{name}/{out.name}"] = {
            "generated_by": tokenize,
            "inputs_sha256": {base: sha256(folder / base), base + ".inp": sha256(shared)},
            "sha256": sha256(out),
            "bytes": out.stat().st_size,
        }
        vocabs[name] = {"cases": count_cases(folder / (base + ".inp"), out),
                        "ids": "llama-tokenize"}
        print(f"{name}: {vocabs[name]['cases']} strings (ids from llama-tokenize)", flush=True)
    special = OUT / "special.json"
    special.write_text(json.dumps({
        "command": "llama-tokenize -m VOCAB -f TEXT --ids --log-disable --no-escape --no-bos "
                   "[--no-parse-special]",
        "vocabs": special_cases(bin_dir),
    }, indent=1, ensure_ascii=False) + "\n")
    files["special.json"] = {"sha256": sha256(special), "bytes": special.stat().st_size}
    manifest = {
        "command": COMMAND,
        "script_sha256": sha256(Path(__file__)),
        "helper_sha256": sha256(Path(__file__).with_name("llamacpp.py")),
        "generated": today(),
        "tool": "llama.cpp test vectors (models/ggml-vocab-*.gguf, .inp, .out), copied unchanged; "
                "llama.cpp llama-tokenize (special.json, and the .out of "
                + ", ".join(GENERATED) + ")",
        "generated_out": {
            "tool": "llama-tokenize (tools/tokenize), built from the sdist's llama.cpp",
            "command": tokenize + " (one run per string; each id line is the printed list)",
            "strings": f"vendor/llama.cpp/models/{SHARED_INP}",
            "cross_checked": "the same runs reproduce the upstream .out of "
                             + ", ".join(CROSS_CHECK) + " byte for byte",
        },
        "test": "tests/test-tokenizer-0.cpp: add_special=false, parse_special=false",
        "sdist": {
            "name": sdist.name,
            "version": LLAMA_CPP_PYTHON,
            "sha256": sha256(sdist),
        },
        "versions": {
            "llama-cpp-python sdist": LLAMA_CPP_PYTHON,
            "llama.cpp commit": llama_commit(),
            "python": platform.python_version(),
        },
        "vocabs": vocabs,
        "files": files,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    total = sum(f["bytes"] for f in files.values())
    print(f"golden/vocab: {len(files)} files, {total / 1e6:.1f} MB", flush=True)


if __name__ == "__main__":
    main()
