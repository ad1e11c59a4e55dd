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
"""llama.cpp's detokenizer on every real vocabulary of golden/vocab: the bytes llama_detokenize
returns for token id sequences, called as common_detokenize calls it (remove_special false),
with unparse_special false and true, from llama_detokenize.cpp linked against the libllama the
pinned llama-cpp-python sdist vendors.

    uv run --locked golden/scripts/detokenize.py

For each folder golden/vocab/<name> holding ggml-vocab-<name>.gguf (loaded vocab_only), the
cases are: the ids of every line of its .out test vectors (when it has them); a few fixed edge
cases (the empty sequence, BOS, EOS, BOS before a token with a leading space, a control token
before one, a space byte token first); and seeded random sequences drawn from pools that
llama.cpp's own view of the vocabulary defines (llama_vocab_get_attr and the piece
llama_token_to_piece gives with special on): uniform ids; byte tokens and pieces that are no
valid UTF-8 on their own (byte-level BPE pieces that split a character), with the bytes of
multi-byte characters whole or cut; control, unknown, user-defined and unused tokens, first and
between tokens with a leading space; and tokens with a leading space next to the punctuation
and apostrophe pieces of llama.cpp's clean_spaces passes. Ids outside the vocabulary are never
drawn (llama.cpp reads its piece cache with .at() and throws).

Writes golden/detokenize/<name>.json and manifest.json. The text is recorded as lowercase hex
of its bytes ("" for none), because it need not be valid UTF-8.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import random
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp import LLAMA_CPP_PYTHON, ROOT, build_tools, fetch_source, llama_commit, run, sha256  # noqa: E402

COMMAND = "uv run --locked golden/scripts/detokenize.py"
VOCAB = ROOT / "golden" / "vocab"
OUT = ROOT / "golden" / "detokenize"
SEED = 20261203
# Random sequences per pool and vocabulary.
PER_POOL = 30
# llama_token_attr bits.
UNKNOWN, UNUSED, NORMAL, CONTROL, USER_DEFINED, BYTE = 1, 2, 4, 8, 16, 32
# Characters whose UTF-8 bytes the byte pool spells out, whole or cut.
CHARS = ["é", "ß", "€", "日", "～", "🦀", "😁", "🌫"]
# Pieces llama.cpp's clean_spaces passes look at: " ?", " !", " .", " ,", " ' ", " 's", " 'm",
# " 're", " 've" lose their space; " 't", " 'd", " 'll" keep it.
CLEAN = re.compile(rb"^ *('(s|m|re|ve|t|d|ll)?|[?!.,]+) *$")


def log(msg: str) -> None:
    print(f"[detokenize] {msg}", flush=True)


def today() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else \
        datetime.datetime.now(datetime.timezone.utc)
    return when.date().isoformat()


def build_tool() -> Path:
    """llama_detokenize.cpp linked against the built libllama, as sampling.py builds its tool."""
    _, llama = fetch_source()
    bin_dir = build_tools([])
    exe = bin_dir / "llama-detokenize"
    run(["g++", "-O2", "-std=c++17", f"-I{llama / 'include'}", f"-I{llama / 'ggml' / 'include'}",
         Path(__file__).parent / "llama_detokenize.cpp", "-o", exe, f"-L{bin_dir}", "-lllama",
         "-lggml", "-lggml-base", f"-Wl,-rpath,{bin_dir}"])
    return exe


def vocabularies() -> list[tuple[str, Path]]:
    """Every folder of golden/vocab with its vocab-only GGUF, by name."""
    out = []
    for d in sorted(p for p in VOCAB.iterdir() if p.is_dir()):
        gguf = d / f"ggml-vocab-{d.name}.gguf"
        if gguf.is_file():
            out.append((d.name, gguf))
    return out


def token_table(exe: Path, gguf: Path) -> tuple[list[tuple[int, bytes]], dict]:
    """(attr, piece with special) of every token, and the vocabulary's facts, from llama.cpp."""
    lines = run([exe, gguf, "--tokens"]).splitlines()
    tokens = []
    for i, line in enumerate(lines[:-1]):
        tid, attr, piece = line.split(" ")
        assert int(tid) == i, line
        tokens.append((int(attr), b"" if piece == "-" else bytes.fromhex(piece)))
    words = lines[-1].split()
    info = {words[k]: int(words[k + 1]) for k in range(0, len(words), 2)}
    assert info["n_tokens"] == len(tokens), info
    return tokens, info


def vectors(gguf: Path) -> list[list[int]]:
    out = gguf.with_name(gguf.name + ".out")
    if not out.is_file():
        return []
    return [[int(t) for t in line.split()] for line in out.read_text().splitlines()]


def is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def cases_for(name: str, tokens: list[tuple[int, bytes]], info: dict) -> list[tuple[str, list]]:
    rng = random.Random(f"{SEED}:{name}")
    n = len(tokens)
    ids = range(n)
    silent = NORMAL | CONTROL | UNKNOWN | USER_DEFINED | BYTE
    normal = [i for i in ids if tokens[i][0] & NORMAL and not tokens[i][0] & (CONTROL | UNKNOWN)]
    special = [i for i in ids if tokens[i][0] & (CONTROL | UNKNOWN)]
    user = [i for i in ids if tokens[i][0] & USER_DEFINED and not tokens[i][0] & (CONTROL | UNKNOWN)]
    unused = [i for i in ids if not tokens[i][0] & silent]
    byte_tokens = [i for i in ids if tokens[i][0] & BYTE]
    partial = [i for i in normal if tokens[i][1] and not is_utf8(tokens[i][1])]
    lead = [i for i in normal + user if tokens[i][1].startswith(b" ")]
    punct = [i for i in normal + user if CLEAN.match(tokens[i][1]) or
             (tokens[i][1] and tokens[i][1].strip(b" ") == b"")]
    # A token for each byte: the byte token, else a normal token whose piece is that byte.
    of_byte: dict[int, int] = {}
    for i in byte_tokens + normal:
        piece = tokens[i][1]
        if len(piece) == 1 and piece[0] not in of_byte:
            of_byte[piece[0]] = i

    def pick(*weighted):
        """One id from the first pool of a weighted draw that is not empty (normal otherwise)."""
        pools = [(w, p) for w, p in weighted if p]
        if not pools:
            return rng.choice(normal)
        r = rng.random() * sum(w for w, _ in pools)
        for w, p in pools:
            if r < w:
                return rng.choice(p)
            r -= w
        return rng.choice(pools[-1][1])

    def spelled(char: str) -> list[int]:
        """A character's bytes as byte tokens, whole or with the first or last byte cut."""
        b = char.encode()
        cut = rng.random()
        if cut < 0.25:
            b = b[1:]
        elif cut < 0.5:
            b = b[:-1]
        return [of_byte[x] for x in b if x in of_byte]

    out: list[tuple[str, list]] = []
    bos, eos = info["bos"], info["eos"]
    fixed = [[]]
    fixed += [[bos]] if bos >= 0 else []
    fixed += [[eos]] if eos >= 0 else []
    if len(lead) >= 2:
        fixed += [[lead[0]], [lead[0], lead[1]]]
        fixed += [[bos, lead[0]]] if bos >= 0 else []
        fixed += [[special[0], lead[0]]] if special else []
        fixed += [[unused[0], lead[0]]] if unused else []
        fixed += [[of_byte[0x20], lead[0]]] if 0x20 in of_byte else []
    fixed += [[of_byte[0x20]]] if 0x20 in of_byte else []
    fixed += [[rng.choice(punct) for _ in range(6)]] if punct else []
    out += [("fixed", seq) for seq in fixed]
    for _ in range(PER_POOL):
        out.append(("any", [rng.randrange(n) for _ in range(rng.randint(1, 24))]))
    for _ in range(PER_POOL):
        seq: list[int] = []
        for _ in range(rng.randint(1, 12)):
            if of_byte and rng.random() < 0.3:
                seq += spelled(rng.choice(CHARS))
            else:
                seq.append(pick((4, byte_tokens), (4, partial), (2, normal)))
        out.append(("bytes", seq))
    for _ in range(PER_POOL):
        seq = [pick((3, special), (2, user), (1, unused), (2, lead), (2, normal))]
        seq += [pick((3, special), (2, user), (1, unused), (3, lead), (3, normal))
                for _ in range(rng.randint(0, 11))]
        out.append(("special", seq))
    for _ in range(PER_POOL):
        seq = [pick((2, lead), (2, punct), (1, normal))]
        seq += [pick((5, punct), (3, lead), (2, normal)) for _ in range(rng.randint(1, 15))]
        out.append(("spaces", seq))
    return out


def hexed(field: str) -> str:
    return "" if field == "-" else field


def main() -> None:
    exe = build_tool()
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in OUT.glob("*.json"):
        stale.unlink()
    sources = {"golden/scripts/llama_detokenize.cpp":
               sha256(Path(__file__).with_name("llama_detokenize.cpp"))}
    scratch = ROOT / "golden" / ".cache" / "detokenize-cases.txt"
    counts = {}
    for name, gguf in vocabularies():
        tokens, info = token_table(exe, gguf)
        vec = vectors(gguf)
        cases = [("vector", ids) for ids in vec] + cases_for(name, tokens, info)
        scratch.write_text("".join(" ".join(map(str, ids)) + "\n" for _, ids in cases))
        lines = run([exe, gguf, scratch]).splitlines()
        assert len(lines) == len(cases), (name, len(lines), len(cases))
        rows = []
        for (kind, ids), line in zip(cases, lines):
            plain, special = line.split(" ")
            rows.append(json.dumps({"kind": kind, "ids": ids, "plain": hexed(plain),
                                    "special": hexed(special)}, separators=(",", ":")))
        rel = gguf.relative_to(ROOT).as_posix()
        head = {"vocab": name, "gguf": rel, "remove_special": False,
                "llama_cpp": {k: info[k] for k in ("n_tokens", "type", "bos", "eos", "add_bos",
                                                   "add_eos")}}
        text = json.dumps(head, indent=1, sort_keys=True)[:-2] + ',\n "cases": [\n  ' + \
            ",\n  ".join(rows) + "\n ]\n}\n"
        json.loads(text)
        (OUT / f"{name}.json").write_text(text)
        sources[rel] = sha256(gguf)
        out_file = gguf.with_name(gguf.name + ".out")
        if out_file.is_file():
            sources[out_file.relative_to(ROOT).as_posix()] = sha256(out_file)
        kinds: dict[str, int] = {}
        for kind, _ in cases:
            kinds[kind] = kinds.get(kind, 0) + 1
        counts[name] = len(cases)
        log(f"{name}: {len(cases)} cases ({', '.join(f'{k} {v}' for k, v in kinds.items())})")
    scratch.unlink()
    files = sorted(p for p in OUT.iterdir() if p.name != "manifest.json")
    manifest = {
        "command": COMMAND,
        "script_sha256": sha256(Path(__file__)),
        "helper_sha256": sha256(Path(__file__).with_name("llamacpp.py")),
        "sources": sources,
        "generated": today(),
        "seed": SEED,
        "tool": "llama.cpp's llama_detokenize (remove_special false, unparse_special false and "
                "true, called as common_detokenize) on vocab_only models, through "
                "llama_detokenize.cpp",
        "versions": {"python": platform.python_version(),
                     "llama-cpp-python sdist": LLAMA_CPP_PYTHON,
                     "llama.cpp commit": llama_commit(),
                     "g++": subprocess.run(["g++", "-dumpfullversion"], capture_output=True,
                                           text=True).stdout.strip()},
        "machine": platform.machine(),
        "cases": counts,
        "layout": {
            "<vocab>.json": "vocab (golden/vocab folder), gguf (its path from the repository "
                            "root), remove_special (false), llama_cpp (n_tokens, vocab type, bos, "
                            "eos, add_bos, add_eos as llama.cpp loaded them), cases: kind (vector: "
                            "a line of the .out test vectors; fixed, any, bytes, special, spaces: "
                            "see detokenize.py), ids, plain and special (llama_detokenize's bytes "
                            "with unparse_special false and true, lowercase hex, \"\" for none)",
        },
        "files": {p.name: {"sha256": sha256(p), "bytes": p.stat().st_size} for p in files},
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    log(f"{sum(counts.values())} cases over {len(counts)} vocabularies written to "
        f"{OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
