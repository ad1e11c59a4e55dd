# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "numpy==2.2.6",
#     "torch==2.11.0",
#     "transformers==4.57.6",
# ]
# [tool.uv]
# exclude-newer = "2026-11-25T00:00:00Z"
# ///
"""RoPE frequencies as HF transformers computes them (`ROPE_INIT_FUNCTIONS`, float32), for
shapes the model goldens cannot reach: a tiny model's YaRN blend range starts at pair 0 and
ends far below the `dim - 1` clamp, so a wrong offset or clamp there changes none of its
logits.

    uv run golden/scripts/rope.py

Writes golden/rope/cases.json (each case's parameters, HF's inv_freq and attention factor) and
manifest.json.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "golden" / "rope"
COMMAND = "uv run golden/scripts/rope.py"

# (name, head_dim, theta, rope_scaling or None). The YaRN cases put the blend range where the
# tiny models do not: starting past pair 0 (Qwen-like 128 / 1e6 / 32768), ending past the
# clamp at dim - 1 (a small base makes the range wider than the pairs), untruncated, and with
# betas other than the defaults.
CASES = [
    ("default", 128, 10000.0, None),
    ("linear", 64, 10000.0, {"rope_type": "linear", "factor": 4.0}),
    ("yarn-qwen", 128, 1000000.0,
     {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}),
    ("yarn-clamped", 64, 4.0,
     {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 400}),
    ("yarn-untruncated", 96, 500000.0,
     {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": 8192,
      "truncate": False}),
    ("yarn-betas", 80, 10000.0,
     {"rope_type": "yarn", "factor": 2.5, "original_max_position_embeddings": 2048,
      "beta_fast": 24.0, "beta_slow": 2.0}),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def today() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else \
        datetime.datetime.now(datetime.timezone.utc)
    return when.date().isoformat()


def main() -> None:
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    cases = []
    for name, head_dim, theta, scaling in CASES:
        heads = 4
        original = (scaling or {}).get("original_max_position_embeddings", 4096)
        config = LlamaConfig(hidden_size=head_dim * heads, num_attention_heads=heads,
                             num_key_value_heads=heads, head_dim=head_dim, intermediate_size=256,
                             num_hidden_layers=1, vocab_size=256, rope_theta=theta,
                             max_position_embeddings=int(original * (scaling or {}).get("factor", 1)),
                             rope_scaling=scaling)
        rope_type = (scaling or {}).get("rope_type", "default")
        inv_freq, attention_factor = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu")
        cases.append({
            "name": name,
            "head_dim": head_dim,
            "theta": theta,
            "rope_scaling": scaling,
            # What save_pretrained writes as config.json.
            "config": json.loads(config.to_json_string()),
            "inv_freq": [float(f) for f in inv_freq.float().tolist()],
            "attention_factor": float(attention_factor),
        })
        print(f"[rope] {name}: {len(cases[-1]['inv_freq'])} pairs, attention factor "
              f"{attention_factor:.6f}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cases.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    files = sorted(p for p in OUT.iterdir() if p.name != "manifest.json")
    manifest = {
        "command": COMMAND,
        "script_sha256": sha256(Path(__file__)),
        "generated": today(),
        "tool": "transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS on a LlamaConfig per case "
                "(device cpu, float32 inv_freq)",
        "versions": {"transformers": version("transformers"), "torch": version("torch"),
                     "numpy": version("numpy"), "python": platform.python_version()},
        "machine": platform.machine(),
        "layout": {
            "cases.json": "per case: name, head_dim, theta, rope_scaling (HF's config dict, null "
                          "for none), config (the whole config.json save_pretrained writes), "
                          "inv_freq (head_dim / 2 float32 values), attention_factor",
        },
        "files": {p.name: {"sha256": sha256(p), "bytes": p.stat().st_size} for p in files},
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"[rope] {len(cases)} cases written to {OUT.relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main()
