"""The stage interface: a small declared unit that knows nothing of scheduling.

A stage turns a batch of input rows (plain dicts) into output rows. Executors (local, Ray Data) decide
where and how often `process` runs; a stage never imports Ray and keeps no state across batches except
what `setup()` builds once per worker (a model, a sandbox pool).

Rows that cannot go on are not exceptions: `process` yields a `Dropped` with a reason, and the executor
writes it to the stage's `rejected/` shard and counts it in the shard's stats. Parts of a row that fail
(one of eight solutions had no code block) are reported the same way while the row itself goes on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pyarrow as pa


@dataclasses.dataclass(frozen=True)
class Dropped:
    """A row, or a part of one, that a stage could not use: kept with its reason, never silently lost."""

    id: str
    reason: str
    detail: str = ""

    def as_row(self, stage: str) -> dict:
        # Cap the detail: it often holds a whole model reply, and rejected shards should stay small.
        return {"id": self.id, "stage": stage, "reason": self.reason, "detail": self.detail[:2000]}


class Stage:
    """Base of every stage. Subclasses are dataclasses whose fields come from the Hydra config.

    Class attributes declare what the executor needs to know:
      name:       output folder under RUN_DIR and the key of the stage's stats.
      schema:     pyarrow schema of output rows (the data contract, see factory/schema.py).
      requires:   input columns the stage reads (checked before it runs).
      batch_size: rows per `process` call.
    `resources()` returns Ray resources per worker; LLM stages ask for GPUs from their llm config.
    """

    name: ClassVar[str]
    schema: ClassVar[pa.Schema]
    requires: ClassVar[tuple[str, ...]] = ()
    batch_size: ClassVar[int] = 64

    def resources(self) -> dict[str, Any]:
        return {"num_cpus": 1}

    def concurrency(self) -> int | None:
        """Workers for this stage on Ray; None lets Ray Data decide (task pools only)."""
        return None

    def setup(self) -> None:
        """Build per-worker state once (models, sandboxes). Runs in the worker, never on the driver."""

    def teardown(self) -> None:
        """Release what `setup` built (containers, processes)."""

    def process(self, rows: list[dict]) -> Iterable[dict | Dropped]:
        raise NotImplementedError


def run_batches(stage: Stage, rows: list[dict]) -> Iterator[dict | Dropped]:
    """Feed rows to `stage.process` in chunks of `stage.batch_size`."""
    size = max(1, stage.batch_size)
    for start in range(0, len(rows), size):
        yield from stage.process(rows[start : start + size])
