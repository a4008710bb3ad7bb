"""Atomic file writes shared by the executors and the stages that write files of their own (the dedup plan).

Everything the factory writes goes through a temporary name and a rename, so a reader (or a resumed run) never
sees half a file: a worker killed mid-write leaves only a `*.tmp` that the retry overwrites.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp)` on a temporary name beside `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {path}: {err.strerror or err}") from err


def write_table(path: Path, table: pa.Table) -> None:
    atomic_write(Path(path), lambda tmp: pq.write_table(table, tmp))


def write_json(path: Path, obj) -> None:
    atomic_write(Path(path), lambda tmp: tmp.write_text(json.dumps(obj, indent=1, default=str)))
