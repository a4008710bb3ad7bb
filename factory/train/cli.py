"""`factory train sft|dpo data=RUN_DIR/<sft|dpo> model=MODEL run_dir=DIR [train.key=value ...]`.

Trains on Ray Train workers (factory/train/ray.py) and writes DIR/train/<kind>/: model/ (a Hugging Face folder
the hf and vllm backends load), metrics.json, ranks/, checkpoints/. A rerun after a kill resumes from the latest
checkpoint; a rerun after success does nothing (metrics.json marks completion).
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

KINDS = ("sft", "dpo")


def out_dir(run_dir: str | Path, kind: str) -> Path:
    return Path(run_dir) / "train" / kind


def validate(tcfg) -> None:
    """Fail before Ray starts, naming the field and value (conf/train/default.yaml or a train.key=value override)."""
    def check(ok: bool, field: str, expected: str) -> None:
        if not ok:
            value = OmegaConf.select(tcfg, field)
            raise ValueError(f"train.{field}={value!r}: expected {expected} (conf/train/default.yaml)")

    def positive_int(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v > 0

    for field in ("num_workers", "cpus_per_worker", "threads_per_worker", "batch_size", "grad_accum",
                  "max_length", "save_steps", "keep_checkpoints", "lora.r"):
        check(positive_int(OmegaConf.select(tcfg, field)), field, "a positive integer")
    for phase in ("sft", "dpo"):
        p = tcfg[phase]
        check(isinstance(p.lr, (int, float)) and p.lr > 0, f"{phase}.lr", "a number > 0")
        check(p.max_steps > 0 or p.epochs > 0, f"{phase}.epochs", f"> 0 (or {phase}.max_steps > 0)")
    check(tcfg.dpo.beta > 0, "dpo.beta", "a number > 0")
    f = tcfg.verifier_fraction
    check(f is None or (isinstance(f, (int, float)) and 0 <= f <= 1), "verifier_fraction", "null or a number in [0, 1]")
    check(tcfg.fail_at_step is None or positive_int(tcfg.fail_at_step), "fail_at_step", "null or a positive integer")
    check(tcfg.checkpoint_upload in ("sync", "async"), "checkpoint_upload", "sync or async")
    check(tcfg.dtype in (None, "float32", "bfloat16", "float16"), "dtype", "null, float32, bfloat16 or float16")
    # Accelerate turns FSDP on for GPUs only: on CPU it would silently train plain DDP with full replicas.
    check(not tcfg.fsdp or tcfg.use_gpu, "fsdp", "false without train.use_gpu=true (FSDP needs GPUs)")
    # Gathering a LoRA model's full state dict from FSDP shards and merging it is not wired: one or the other.
    check(not (tcfg.fsdp and tcfg.lora.enabled), "fsdp", "false with train.lora.enabled=true (LoRA needs no FSDP)")


def train(cfg, kind: str, data_dir: str | Path, out: Path, model_out: Path | None = None) -> dict:
    """Train once: skipped when `out/metrics.json` exists (the marker written last by a completed run), unless
    `train.resume=false` asks for a fresh run."""
    from factory.train.ray import fit

    validate(cfg.train)
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
