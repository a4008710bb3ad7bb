"""Ray Data executor: shards stream through a chain of `map_batches`, one per stage.

Each item of the dataset is a shard name; each `map_batches` call runs one stage over whole shards
(read input Parquet, process, write output Parquet, marker). Why shards and not rows: output names stay
deterministic, a shard is retried as a unit, and a rerun skips completed shards. Chaining the stages in one
dataset streams: shard 0 can be in `solutions` while shard 7 is still in `problems`.

Stages with a `setup()` (models, sandboxes) run in an actor pool so the state is built once per worker;
the rest run as tasks. Actors restart and retry their batch when they die (Ray Data's default for actor
pools), tasks retry `max_retries` times; both are safe because shard writes are atomic and idempotent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from factory.executors.shards import run_shard
from factory.stages.base import Stage


def init_ray(cluster_cfg) -> None:
    import ray

    if ray.is_initialized():
        return
    # Without this, Ray Train's print patch floods logs with `datasets` fingerprinting output.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    if cluster_cfg.address:
        kwargs = {"address": cluster_cfg.address}
    else:
        # A local "cluster" offers the custom `sandbox` resource the executions stage asks for, one per CPU.
        cpus = cluster_cfg.num_cpus or os.cpu_count()
        kwargs = {"num_cpus": cpus, "resources": {"sandbox": float(cpus)}}
    ray.init(log_to_driver=cluster_cfg.log_to_driver, **kwargs)


class _ShardWorker:
    """Actor wrapper: builds the stage's state once, then runs whole shards."""

    def __init__(self, stage: Stage, in_dir, out_dir):
        self.stage, self.in_dir, self.out_dir = stage, in_dir, out_dir
        stage.setup()

    def __call__(self, batch):
        return _run_batch(self.stage, self.in_dir, self.out_dir, batch)

    def __del__(self):
        self.stage.teardown()


def _run_task(batch, stage: Stage, in_dir, out_dir):
    return _run_batch(stage, in_dir, out_dir, batch)


def _run_batch(stage, in_dir, out_dir, batch):
    shards = [str(s) for s in batch["shard"]]
    stats = [json.dumps(run_shard(stage, in_dir, out_dir, s)) for s in shards]
    return {"shard": shards, "stats": stats}


def _has_setup(stage: Stage) -> bool:
    return type(stage).setup is not Stage.setup


class RayExecutor:
    name = "ray"

    def __init__(self, cluster_cfg):
        self.cluster_cfg = cluster_cfg
        init_ray(cluster_cfg)

    def run_chain(self, chain: list[tuple[Stage, Path | None, Path]], shards: list[str]) -> list[dict]:
        if not shards:
            return []
        if self.cluster_cfg.stream_stages:
            return self._run(chain, shards)
        # One Ray Data pass per stage: every actor pool of a chain needs its CPUs or GPUs at once, which a small
        # machine cannot give (two LLM stages on one GPU would each hold a model copy).
        return [s for link in chain for s in self._run([link], shards)]

    def _run(self, chain, shards):
        import ray

        ds = ray.data.from_items([{"shard": s} for s in shards], override_num_blocks=len(shards))
        for stage, in_dir, out_dir in chain:
            res = dict(stage.resources())
            remote = {
                "num_cpus": res.pop("num_cpus", 1),
                "num_gpus": res.pop("num_gpus", 0) or None,
                "resources": res or None,
            }
            if _has_setup(stage):
                workers = stage.concurrency() or max(1, int(self.cluster_cfg.max_actors))
                ds = ds.map_batches(_ShardWorker, fn_constructor_args=(stage, in_dir, out_dir), batch_size=1,
                                    concurrency=(1, workers), **remote)
            else:
                ds = ds.map_batches(_run_task, fn_args=(stage, in_dir, out_dir), batch_size=1,
                                    max_retries=self.cluster_cfg.task_retries, **remote)
        return [json.loads(r["stats"]) for r in ds.take_all()]
