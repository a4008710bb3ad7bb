"""In-process executor: every shard of a stage, one after the other, in this process. For tests and debugging."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from factory.executors.shards import run_shard
from factory.stages.base import Stage


class LocalExecutor:
    name = "local"

    def run_chain(self, chain: list[tuple[Stage, Path | None, Path]], shards: list[str]) -> list[dict]:
        """Run stages in order over the given shards; `chain` holds (stage, in_dir, out_dir)."""
        stats = []
        for stage, in_dir, out_dir in chain:
            stage.setup()
            try:
                for shard in tqdm(shards, desc=stage.name, unit="shard", leave=False):
                    stats.append(run_shard(stage, in_dir, out_dir, shard))
            finally:
                stage.teardown()
        return stats
