"""Resume that notices a changed config: which config keys each stage's output depends on, and its fingerprint.

A stage's fingerprint hashes the values of its keys (below) and its input stage's fingerprint, so a change
anywhere upstream reaches every stage after it. Each stage records its fingerprint before its first shard
(RUN_DIR/_meta/<stage>/config.json) and again in its SUCCESS marker. On a rerun, the first stage whose recorded
fingerprint differs from the one the current config gives is recomputed with every later stage, and the log
names the keys that changed; everything before it is reused. Keys that only change how fast or where a stage
runs (workers, batch sizes, Ray, W&B, run_dir) are not listed: changing them recomputes nothing.

Assumption: a key lists here only if it can change a stage's rows. A new config key that does must be added to
this table, or a rerun will keep rows made under its old value.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

# What an LLM stage's replies depend on: the weights, the engine and its numeric type, the sampling seed.
# (`llm.model` is the model name an OpenAI-compatible endpoint is asked for.)
LLM = ("model.name", "model.source", "model.path", "llm.backend", "llm.dtype", "llm.model", "seed")
# Sandbox keys that can change a verdict (limits, the interpreter, the isolation), not its speed.
SANDBOX = ("sandbox.kind", "sandbox.image", "sandbox.python", "sandbox.isolation", "sandbox.allow_unsafe",
           "sandbox.timeout", "sandbox.wall_factor", "sandbox.assert_mode", "sandbox.memory_mb",
           "sandbox.output_limit_kb", "sandbox.max_processes", "sandbox.max_open_files", "sandbox.max_file_mb",
           "sandbox.tmp_mb")

KEYS: dict[str, tuple[str, ...]] = {
    "seeds": ("seeds", "num_problems", "shard_size", "seed"),
    "problems": LLM + ("generate.problem", "generate.styles", "generate.problem_code"),
    "signatures": LLM + ("generate.signature",),
    "dedup": ("dedup",),
    "solutions": LLM + ("generate.solution", "generate.num_solutions", "problems_from"),
    # The quorum (verify.min_votes, min_share) and the labelling mode (verify.outputs) apply in verification:
    # the tests stage keeps every sample and executions run every input, so changing them costs no LLM call.
    "tests": LLM + ("generate.test_inputs", "generate.test_output", "generate.num_inputs", "generate.num_outputs",
                    "generate.input_samples", "generate.example_inputs", "generate.boundary_inputs",
                    "generate.boundary_outputs"),
    "executions": SANDBOX,
    "verification": SANDBOX + ("verify",),      # but not verify.soft: the soft stage's (EXCLUDE)
    # soft and repair depend on their keys (and the model) only when enabled: when off they pass rows on.
    "soft": ("verify.soft.enabled",),
    "repair": ("repair.enabled",),
    "repair_executions": ("repair.enabled",),
    "sft": (),
    "dpo": (),
}


# Keys added after run dirs were recorded, with the value that does what the code did before the key existed:
# at that value a key is left out of the fingerprint, so a run recorded before it resumes instead of recomputing.
ADDED = {"generate.problem_code": "keep", "generate.example_inputs": 0, "generate.boundary_inputs": 0,
         "generate.boundary_outputs": True,
         "verify.consensus": "suite", "verify.examples": "off", "verify.types": "off",
         "generate.test_inputs.structured": False, "generate.test_output.structured": False}

ENABLED = {"soft": ("verify.soft", LLM), "repair": ("repair", LLM), "repair_executions": ("repair", SANDBOX)}
EXCLUDE = {"verification": "verify.soft."}


def stage_keys(cfg, stage: str) -> tuple[str, ...]:
    keys = KEYS[stage]
    if stage in ENABLED and OmegaConf.select(cfg, keys[0], default=False):
        group, more = ENABLED[stage]
        keys = (group,) + more
    return keys


def _values(cfg, key: str) -> dict:
    """{dotted key: value} for one key; a group (`verify`) is spelled out key by key, so a log names `verify.tau`."""
    value = OmegaConf.select(cfg, key, default=None)
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    return _flat(value, key) if isinstance(value, dict) else {key: value}


def _flat(value: dict, prefix: str) -> dict:
    out = {}
    for name, sub in value.items():
        if isinstance(sub, dict):
            out.update(_flat(sub, f"{prefix}.{name}"))
        else:
            out[f"{prefix}.{name}"] = sub
    return out


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def records(cfg, stages: list[str], inputs: dict[str, str | None], recorded_input) -> dict[str, dict]:
    """stage -> {"fingerprint", "config", "input"}: what each stage of `stages` would be run under now.

    `inputs[stage]` names the stage it reads (None for seeds); an input outside `stages` (a resumed chain's
    start, `problems_from`) contributes the fingerprint `recorded_input(stage)` returns for it.
    """
    out: dict[str, dict] = {}
    for stage in stages:
        config = {k: v for key in stage_keys(cfg, stage) for k, v in _values(cfg, key).items()
                  if not (stage in EXCLUDE and k.startswith(EXCLUDE[stage])) and not (k in ADDED and v == ADDED[k])}
        upstream = inputs.get(stage)
        input_fp = None if upstream is None else (
            out[upstream]["fingerprint"] if upstream in out else recorded_input(stage))
        fp = _hash({"stage": stage, "config": config, "input": input_fp})
        out[stage] = {"fingerprint": fp, "config": config, "input": input_fp}
    return out


def folder_fingerprint(folder: Path, recorded: dict | None) -> str:
    """The fingerprint a folder read as input contributes: the one its stage recorded, else its path."""
    return (recorded or {}).get("fingerprint") or f"path:{Path(folder).resolve()}"


def changes(old: dict, new: dict) -> list[str]:
    """What differs between a recorded and a current record: `key: old -> new`, or `input` when upstream did."""
    before, after = old.get("config") or {}, new["config"]
    out = [f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in sorted(set(before) | set(after))
           if before.get(k) != after.get(k)]
    if old.get("input") != new["input"]:
        out.append("its input changed")
    return out or ["fingerprint differs"]
