"""Shards: deterministic names, atomic writes, completion markers, per-shard stats, resume.

Layout of a run (scripts outside the project read it; README "Output layout"):
    RUN_DIR/<stage>/shard-00000.parquet                  kept rows, the stage's declared schema; nothing else
    RUN_DIR/_meta/<stage>/rejected/shard-00000.parquet   dropped rows and parts: id, stage, reason, detail
    RUN_DIR/_meta/<stage>/stats/shard-00000.json         rows in/out, dropped by reason, seconds, stage metrics
    RUN_DIR/_meta/<stage>/completions/shard-00000        marker, written last: its existence means the shard is done
    RUN_DIR/_meta/<stage>/config.json                    the config the stage depends on and its fingerprint,
                                                         written before its first shard (factory/resume.py)
    RUN_DIR/_meta/<stage>/SUCCESS                        written when every shard of the stage is done

Why bookkeeping lives beside the data folder and not in it: `datasets.load_dataset("parquet", data_dir=...)`
reads every file under a folder, so one marker or JSON file inside it fails the load. Runs written before this
layout kept bookkeeping inside RUN_DIR/<stage>/ (`_stats/`, `_rejected/`, `_completions/`, `_SUCCESS`): their
stats still read (`read_stats`, `factory stats`); resuming one is refused with a message (`legacy_stages`).

The shard is the unit of retry: a worker that dies mid-shard leaves only `*.tmp` files, which the retry
overwrites; a shard whose marker exists is never recomputed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory.parquet_io import atomic_write, write_json, write_table
from factory.schema import REJECTED
from factory.stages.base import Dropped, Stage, run_batches

__all__ = ["is_done", "legacy_stages", "mark_stage_done", "meta_dir", "read_fingerprint", "read_rejected",
           "read_stats", "run_shard", "shard_name", "shard_names", "stage_done", "stats_files", "write_fingerprint",
           "write_json", "write_shard", "write_table"]

META = "_meta"
LEGACY = ("_SUCCESS", "_stats", "_completions", "_rejected")   # bookkeeping names of the layout before _meta/


def meta_dir(stage_dir: Path) -> Path:
    """Where the bookkeeping of the data folder RUN_DIR/<stage> lives: RUN_DIR/_meta/<stage>."""
    stage_dir = Path(stage_dir)
    return stage_dir.parent / META / stage_dir.name


def is_legacy(stage_dir: Path) -> bool:
    """True when `stage_dir` holds bookkeeping of the older layout (inside the data folder)."""
    return any((Path(stage_dir) / name).exists() for name in LEGACY)


def legacy_stages(run_dir: Path, stages) -> list[str]:
    return [s for s in stages if is_legacy(Path(run_dir) / s)]


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def shard_names(stage_dir: Path) -> list[str]:
    """Names of the Parquet shards in a stage folder, sorted."""
    return sorted(p.name.removesuffix(".parquet") for p in Path(stage_dir).glob("shard-*.parquet"))


def is_done(stage_dir: Path, shard: str) -> bool:
    return (meta_dir(stage_dir) / "completions" / shard).exists()


def stage_done(stage_dir: Path) -> bool:
    return (meta_dir(stage_dir) / "SUCCESS").exists()


def stats_files(stage_dir: Path) -> list[Path]:
    """The per-shard stats files of a stage, sorted; those of the older layout when the run is from before."""
    stage_dir = Path(stage_dir)
    folder = meta_dir(stage_dir) / "stats"
    if not folder.is_dir() and (stage_dir / "_stats").is_dir():
        folder = stage_dir / "_stats"
    return sorted(folder.glob("shard-*.json"))


def read_stats(stage_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in stats_files(stage_dir)]


def read_rejected(stage_dir: Path) -> pa.Table:
    """Every dropped row and part of a stage (either layout); an empty table when nothing was dropped."""
    stage_dir = Path(stage_dir)
    folder = meta_dir(stage_dir) / "rejected"
    if not folder.is_dir() and (stage_dir / "_rejected").is_dir():
        folder = stage_dir / "_rejected"
    files = sorted(folder.glob("shard-*.parquet"))
    return pa.concat_tables([pq.read_table(f, schema=REJECTED) for f in files]) if files else REJECTED.empty_table()


def read_fingerprint(stage_dir: Path) -> dict | None:
    """What a stage recorded ({"fingerprint", "config", "input"}) before its first shard, or in its SUCCESS
    marker (stages written outside the pipeline, e.g. `factory verify`'s input); None when nothing was."""
    for name in ("config.json", "SUCCESS"):
        path = meta_dir(stage_dir) / name
        record = json.loads(path.read_text()) if path.exists() else {}
        if "fingerprint" in record:
            return record
    return None


def write_fingerprint(stage_dir: Path, record: dict) -> None:
    """Record the config a stage runs under, before its first shard: a folder is then never shared by shards made
    under two configs (a rerun compares this record and wipes the folder when it differs)."""
    write_json(meta_dir(stage_dir) / "config.json", record)


def write_shard(stage: Stage, out_dir: Path, shard: str, rows: list[dict], dropped: list[Dropped],
                rows_in: int, seconds: float) -> dict:
    """Write one finished shard: data, rejected rows, stats, then the marker (last)."""
    out_dir = Path(out_dir)
    meta = meta_dir(out_dir)
    table = pa.Table.from_pylist(rows, schema=stage.schema)
    write_table(out_dir / f"{shard}.parquet", table)
    rejected = pa.Table.from_pylist([d.as_row(stage.name) for d in dropped], schema=REJECTED)
    write_table(meta / "rejected" / f"{shard}.parquet", rejected)
    metrics = getattr(stage, "shard_metrics", None)
    stats = {
        "stage": stage.name,
        "shard": shard,
        "rows_in": rows_in,
        "rows_out": len(rows),
        "dropped": dict(Counter(d.reason for d in dropped)),
        "seconds": round(seconds, 3),
        "metrics": metrics(rows) if metrics else {},
    }
    write_json(meta / "stats" / f"{shard}.json", stats)
    atomic_write(meta / "completions" / shard, lambda tmp: tmp.write_text(str(time.time())))
    return stats


def run_shard(stage: Stage, in_dir: Path | None, out_dir: Path, shard: str) -> dict:
    """Run `stage` over one input shard and write its output shard. Idempotent: a done shard is skipped."""
    out_dir = Path(out_dir)
    if is_done(out_dir, shard):
        return {**json.loads((meta_dir(out_dir) / "stats" / f"{shard}.json").read_text()), "skipped": True}
    start = time.perf_counter()
    in_path = Path(in_dir) / f"{shard}.parquet"
    table = pq.read_table(in_path)
    missing = [c for c in stage.requires if c not in table.column_names]
    if missing:
        raise ValueError(f"{in_path}: stage {stage.name!r} needs columns {missing}, found {table.column_names}")
    rows, dropped = [], []
    for item in run_batches(stage, table.to_pylist()):
        (dropped if isinstance(item, Dropped) else rows).append(item)
    return write_shard(stage, out_dir, shard, rows, dropped, table.num_rows, time.perf_counter() - start)


def mark_stage_done(stage_dir: Path, shards: list[str], fingerprint: dict | None = None) -> None:
    """Write the stage's SUCCESS marker once every shard is done; it repeats the stage's config fingerprint."""
    missing = [s for s in shards if not is_done(stage_dir, s)]
    if missing:
        raise RuntimeError(f"{stage_dir}: shards not completed: {missing[:5]}")
    record = fingerprint if fingerprint is not None else read_fingerprint(stage_dir) or {}
    write_json(meta_dir(stage_dir) / "SUCCESS", {"shards": len(shards), "time": time.time(), **record})
