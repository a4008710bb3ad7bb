"""Executors run the same stages in-process (`local`) or on Ray Data (`ray`); they differ only in scheduling.

Both call `run_logged` for every shard and report each finished shard's stats (the dict `write_shard` returns,
the same record `read_stats` reads back later) to an optional `progress` object, on the driver, as the shard
completes: `progress.stage_started(name, shards)` once per stage, then `progress.shard_done(stats)`.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from factory.executors.shards import meta_dir, run_shard


class ShardFailed(RuntimeError):
    """One line for a person: the stage, the shard, the cause, and where the full traceback was written."""


def make_executor(cfg):
    """Build the executor named by `cfg.executor` (local | ray)."""
    if cfg.executor == "local":
        from factory.executors.local import LocalExecutor

        return LocalExecutor()
    if cfg.executor == "ray":
        from factory.executors.ray_data import RayExecutor

        return RayExecutor(cfg.cluster, log_level=cfg.get("log_level") or "warning")
    raise ValueError(f"executor={cfg.executor!r}: expected 'local' or 'ray'")


def run_logged(stage, in_dir, out_dir, shard: str) -> dict:
    """`run_shard`, with a failure turned into `ShardFailed`: the traceback goes to a log file beside the
    stage's bookkeeping (RUN_DIR/_meta/<stage>/errors/<shard>.log) so the console shows one line, not a wall."""
    try:
        return run_shard(stage, in_dir, out_dir, shard)
    except Exception as err:  # noqa: BLE001 - re-raised as ShardFailed, the cause kept in the log
        raise _failed(stage, out_dir, shard, err) from None


def setup_logged(stage, out_dir) -> None:
    """`stage.setup()` (a model load, a sandbox start) failing the same way: one line, the traceback in setup.log."""
    try:
        stage.setup()
    except Exception as err:  # noqa: BLE001
        raise _failed(stage, out_dir, "setup", err) from None


def _failed(stage, out_dir, what: str, err: Exception) -> ShardFailed:
    log = meta_dir(Path(out_dir)) / "errors" / f"{what}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(traceback.format_exc())
    cause = (f"{type(err).__name__}: {err}".splitlines() or [""])[0][:300]
    return ShardFailed(f"stage {stage.name}, {what} failed: {cause} (full log: {log})")
