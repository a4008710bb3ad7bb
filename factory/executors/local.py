"""In-process executor: every shard of a stage, one after the other, in this process. For tests and debugging."""

from __future__ import annotations

from pathlib import Path

from factory.executors import run_logged, setup_logged
from factory.stages.base import Stage


class LocalExecutor:
    name = "local"

    def run_chain(self, chain: list[tuple[Stage, Path | None, Path]], shards: list[str],
                  progress=None) -> list[dict]:
        """Run stages in order over the given shards; `chain` holds (stage, in_dir, out_dir). Each finished
        shard's stats go to `progress.shard_done` as it completes (see factory/executors/__init__.py)."""
        stats = []
        for stage, in_dir, out_dir in chain:
            if progress:
                progress.stage_started(stage.name, len(shards))
            setup_logged(stage, out_dir)
            try:
                for shard in shards:
                    stats.append(run_logged(stage, in_dir, out_dir, shard))
                    if progress:
                        progress.shard_done(stats[-1])
            finally:
                stage.teardown()
        return stats
