"""`factory train sft|dpo data=RUN_DIR/<sft|dpo> model=MODEL run_dir=DIR [train.key=value ...]`.

Trains on Ray Train workers (factory/train/ray.py) and writes DIR/train/<kind>/: model/ (a Hugging Face folder
the hf and vllm backends load), metrics.json, ranks/, checkpoints/. A rerun after a kill resumes from the latest
checkpoint; a rerun after success does nothing (metrics.json marks completion).
"""

from __future__ import annotations

import json
from pathlib import Path

KINDS = ("sft", "dpo")


def out_dir(run_dir: str | Path, kind: str) -> Path:
    return Path(run_dir) / "train" / kind


def train(cfg, kind: str, data_dir: str | Path, out: Path, model_out: Path | None = None) -> dict:
    """Train once: skipped when `out/metrics.json` exists (the marker written last by a completed run), unless
    `train.resume=false` asks for a fresh run."""
    from factory.train.ray import fit

    done = out / "metrics.json"
    if done.exists() and cfg.train.resume:
        return json.loads(done.read_text())
    return fit(cfg, kind, data_dir, out, model_out)


def main(cfg, args: list[str]) -> int:
    if len(args) != 1 or args[0] not in KINDS:
        raise ValueError(f"usage: factory train sft|dpo data=RUN_DIR/<sft|dpo> model=MODEL run_dir=DIR; got {args}")
    kind = args[0]
    if not cfg.data:
        raise ValueError(f"factory train {kind} needs data=RUN_DIR/{kind} (a folder of {kind} shards)")
    out = out_dir(cfg.run_dir, kind)
    m = train(cfg, kind, cfg.data, out)
    print(f"{kind}: {m['rows']} rows {m['roles']} on {m['world_size']} workers, {m['steps']} steps, "
          f"loss {m['first_loss']} -> {m['final_loss']}, {m['tokens_per_second']} tokens/s")
    print(f"model: {m['model_out']}")
    return 0
