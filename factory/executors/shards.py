"""Shards: deterministic names, atomic writes, completion markers, per-shard stats, resume.

Layout of one stage's folder (scripts outside the project read it):
    RUN_DIR/<stage>/shard-00000.parquet            kept rows, the stage's declared schema
    RUN_DIR/<stage>/_rejected/shard-00000.parquet  dropped rows and parts: id, stage, reason, detail
    RUN_DIR/<stage>/_stats/shard-00000.json        rows in/out, dropped by reason, seconds, stage metrics
    RUN_DIR/<stage>/_completions/shard-00000       marker, written last: its existence means the shard is done
    RUN_DIR/<stage>/_SUCCESS                       written when every shard of the stage is done

The `_` prefix keeps bookkeeping out of the data: `pq.read_table(RUN_DIR/<stage>)`, pandas and Ray Data skip it.

The shard is the unit of retry: a worker that dies mid-shard leaves only `*.tmp` files, which the retry
overwrites; a shard whose marker exists is never recomputed.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory.schema import REJECTED
from factory.stages.base import Dropped, Stage, run_batches


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def shard_names(stage_dir: Path) -> list[str]:
    """Names of the Parquet shards in a stage folder, sorted."""
    return sorted(p.name.removesuffix(".parquet") for p in Path(stage_dir).glob("shard-*.parquet"))


def is_done(stage_dir: Path, shard: str) -> bool:
    return (Path(stage_dir) / "_completions" / shard).exists()


def stage_done(stage_dir: Path) -> bool:
    return (Path(stage_dir) / "_SUCCESS").exists()


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary name then rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {path}: {err.strerror or err}") from err


def write_table(path: Path, table: pa.Table) -> None:
    _atomic_write(Path(path), lambda tmp: pq.write_table(table, tmp))


def write_json(path: Path, obj) -> None:
    _atomic_write(Path(path), lambda tmp: tmp.write_text(json.dumps(obj, indent=1, default=str)))


def read_stats(stage_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(stage_dir) / "_stats").glob("shard-*.json"))]


def write_shard(stage: Stage, out_dir: Path, shard: str, rows: list[dict], dropped: list[Dropped],
                rows_in: int, seconds: float) -> dict:
    """Write one finished shard: data, rejected rows, stats, then the marker (last)."""
    out_dir = Path(out_dir)
    table = pa.Table.from_pylist(rows, schema=stage.schema)
    write_table(out_dir / f"{shard}.parquet", table)
    rejected = pa.Table.from_pylist([d.as_row(stage.name) for d in dropped], schema=REJECTED)
    write_table(out_dir / "_rejected" / f"{shard}.parquet", rejected)
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
    write_json(out_dir / "_stats" / f"{shard}.json", stats)
    marker = out_dir / "_completions" / shard
    _atomic_write(marker, lambda tmp: tmp.write_text(str(time.time())))
    return stats


def run_shard(stage: Stage, in_dir: Path | None, out_dir: Path, shard: str) -> dict:
    """Run `stage` over one input shard and write its output shard. Idempotent: a done shard is skipped."""
    out_dir = Path(out_dir)
    if is_done(out_dir, shard):
        return {**json.loads((out_dir / "_stats" / f"{shard}.json").read_text()), "skipped": True}
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


def mark_stage_done(stage_dir: Path, shards: list[str]) -> None:
    missing = [s for s in shards if not is_done(stage_dir, s)]
    if missing:
        raise RuntimeError(f"{stage_dir}: shards not completed: {missing[:5]}")
    write_json(Path(stage_dir) / "_SUCCESS", {"shards": len(shards), "time": time.time()})
