"""Ray Data executor: shards stream through a chain of `map_batches`, one per stage.

Each item of the dataset is a shard name; each `map_batches` call runs one stage over whole shards
(read input Parquet, process, write output Parquet, marker). Why shards and not rows: output names stay
deterministic, a shard is retried as a unit, and a rerun skips completed shards. Chaining the stages in one
dataset streams: shard 0 can be in `solutions` while shard 7 is still in `problems`.

Stages with a `setup()` (models, sandboxes) run in an actor pool so the state is built once per worker: a
fixed-size pool when the stage names its worker count (LLM stages: `llm.concurrency`; an autoscaling pool would
reload a model at every re-scale), else one that grows from 1 to `cluster.max_actors`. The rest run as tasks.
Actors restart and retry their batch when they die, tasks retry on system failures (node loss, OOM kill): Ray
Data's defaults, safe because shard writes are atomic and idempotent. A failure in our code is not retried: it
stops the run with one line naming the stage, the shard and the cause (`ShardFailed`).

The driver sees a shard as its row comes out of the dataset (`iter_rows`, in completion order): each row carries
the stats of every stage of the chain for that shard, which go to `progress.shard_done` there and then.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import threading
import warnings
from pathlib import Path

from factory.executors import ShardFailed, run_logged, setup_logged
from factory.stages.base import Stage

log = logging.getLogger(__name__)

# Ray core's driver prints this for every Ray Data actor pool (Ray 2.60): Ray Data passes its own `ray.put`
# objects (the map transformer, the DataContext) to each actor's constructor and asks for restarts, and restarts
# cannot rebuild a lost argument (ray-project/ray#53727). The driver holds those objects for the dataset's whole
# life and its node is the job's, so nothing here can lose them; the line says nothing a user can act on.
_RAY_ACTOR_ARGS_LINE = b"has constructor arguments in the object store and max_restarts > 0"


def init_ray(cluster_cfg, log_level: str = "warning") -> None:
    """Start (or join) Ray with its console logging at `log_level`; its log files keep everything."""
    level = getattr(logging, str(log_level).upper())
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")  # else `datasets` fingerprinting floods the logs
    if cluster_cfg.address:
        kwargs = {"address": cluster_cfg.address}
    else:
        # A local "cluster" offers the custom `sandbox` resource the executions stage asks for, one per CPU.
        cpus = cluster_cfg.num_cpus or os.cpu_count()
        kwargs = {"num_cpus": cpus, "resources": {"sandbox": float(cpus)}}
    import ray
    import ray.data

    if not ray.is_initialized():
        # Ray turns token auth on for a new local cluster (RAY_AUTH_MODE unset) and warns at every start, in
        # its words, with a link; the protection stays, and we say it once in ours. Setting RAY_AUTH_MODE
        # ourselves would not do: a Ray imported earlier in this process has already read it.
        auth = logging.getLogger("ray._private.authentication.authentication_token_setup")
        announce = not cluster_cfg.address and "RAY_AUTH_MODE" not in os.environ
        before = auth.level
        if announce and level > logging.INFO:
            auth.setLevel(logging.ERROR)
        try:
            ray.init(log_to_driver=cluster_cfg.log_to_driver, logging_level=level, **kwargs)
        finally:
            auth.setLevel(before)
        if announce:
            log.warning("local Ray: token authentication on (token in ~/.ray/auth_token; "
                        "RAY_AUTH_MODE=disabled turns it off)")
    _quiet_ray_data(ray.data, level)


class _NoUserCodeErrors(logging.Filter):
    """Drops Ray Data's console report of an exception in a UDF: ours are `ShardFailed`, reported in one line by
    the driver with the path of the full traceback; the ray-data.log file still gets Ray's report."""

    PREFIXES = ("An exception was raised from a task of operator", "Exception occurred in user code")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIXES)


def _quiet_ray_data(ray_data, level: int) -> None:
    """Ray Data's console handler at `level` (its ray-data.log file keeps INFO); no progress bars of its own:
    the console shows ours (factory/report/console.py)."""
    for handler in logging.getLogger("ray.data").handlers:
        if type(handler).__name__ != "SessionFileHandler":
            handler.setLevel(level)
            if level > logging.INFO and not any(isinstance(f, _NoUserCodeErrors) for f in handler.filters):
                handler.addFilter(_NoUserCodeErrors())
    ctx = ray_data.DataContext.get_current()
    ctx.print_on_execution_start = level <= logging.INFO
    if level > logging.DEBUG:
        from ray.util.debug import log_once

        # Ray Data warns once that its bars are off; we turned them off on purpose, so take that once.
        log_once("ray_data_progress_manager_disabled")
        ctx.enable_progress_bars = False


@contextlib.contextmanager
def _stderr_without(needle: bytes):
    """Pass this process's stderr (file descriptor 2, where Ray's C++ core logs) through, minus lines holding
    `needle`. Everything else, Python's own output included, is forwarded unchanged."""
    try:
        saved = os.dup(2)
        read, write = os.pipe()
    except OSError:
        yield
        return
    sys.stderr.flush()
    os.dup2(write, 2)
    os.close(write)

    def forward():
        with os.fdopen(read, "rb") as lines:
            for line in lines:
                if needle not in line:
                    os.write(saved, line)

    thread = threading.Thread(target=forward, daemon=True, name="stderr-filter")
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)      # closes the pipe's last write end: the thread sees EOF and ends
        thread.join(timeout=5)
        os.close(saved)


class _ShardWorker:
    """Actor wrapper: builds the stage's state once, then runs whole shards."""

    def __init__(self, stage: Stage, in_dir, out_dir):
        self.stage, self.in_dir, self.out_dir = stage, in_dir, out_dir
        setup_logged(stage, out_dir)

    def __call__(self, batch):
        return _run_batch(self.stage, self.in_dir, self.out_dir, batch)

    def __del__(self):
        self.stage.teardown()


def _run_task(batch, stage: Stage, in_dir, out_dir):
    return _run_batch(stage, in_dir, out_dir, batch)


def _run_batch(stage, in_dir, out_dir, batch):
    """Run the batch's shards; each output row carries the stats of the earlier stages of the chain plus this
    one's (a JSON list), so the driver learns every stage's figures when the shard leaves the chain."""
    shards = [str(s) for s in batch["shard"]]
    earlier = [json.loads(s) for s in batch["stats"]] if "stats" in batch else [[] for _ in shards]
    stats = [json.dumps(prev + [run_logged(stage, in_dir, out_dir, s)]) for s, prev in zip(shards, earlier)]
    return {"shard": shards, "stats": stats}


def actor_pool(stage: Stage, max_actors: int):
    """A fixed pool of `stage.concurrency()` actors when the stage names it (each re-scale of an autoscaling pool
    would load the model again), else one growing from 1 to `max_actors` (sandboxes start in a second)."""
    import ray.data

    if stage.concurrency():
        return ray.data.ActorPoolStrategy(size=int(stage.concurrency()))
    return ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, int(max_actors)))


def _bounded(key: str, retries: int):
    """Remote args bounding how often one shard is retried after its worker died (`cluster.task_retries`).

    Ray Data restarts a dead actor and retries its task forever by default (`max_task_retries=-1`), so a shard
    that kills every worker it lands on (an input that OOMs the sandbox, a model that segfaults on one prompt)
    would hang the run. Bounded, the run fails naming the stage. Ray 2.60 has no named map_batches parameter for
    retries: both `ray_remote_args_fn` and the catch-all `**ray_remote_args` are deprecated for removal in 2.64
    (the pinned Ray is 2.60; revisit on upgrade). Ray Data merges these over its defaults."""
    return lambda: {key: retries}


def _has_setup(stage: Stage) -> bool:
    return type(stage).setup is not Stage.setup


def _shard_failure(err: BaseException) -> str | None:
    """The message of our ShardFailed inside Ray's wrappers (RayTaskError, UserCodeException), if that is what
    stopped the run. Ray ships a worker's exception chain as text, so the message is found in it."""
    found = re.search(r"ShardFailed: (.+)", str(err))
    return found.group(1).strip() if found else None


class RayExecutor:
    name = "ray"

    def __init__(self, cluster_cfg, log_level: str = "warning"):
        self.cluster_cfg = cluster_cfg
        init_ray(cluster_cfg, log_level)

    def run_chain(self, chain: list[tuple[Stage, Path | None, Path]], shards: list[str],
                  progress=None) -> list[dict]:
        if not shards:
            return []
        if self.cluster_cfg.stream_stages:
            return self._run(chain, shards, progress)
        # One Ray Data pass per stage: every actor pool of a chain needs its CPUs or GPUs at once, which a small
        # machine cannot give (two LLM stages on one GPU would each hold a model copy).
        return [s for link in chain for s in self._run([link], shards, progress)]

    def _run(self, chain, shards, progress):
        import ray

        ds = ray.data.from_items([{"shard": s} for s in shards], override_num_blocks=len(shards))
        for stage, in_dir, out_dir in chain:
            res = dict(stage.resources())
            remote = {"num_cpus": res.pop("num_cpus", 1), "num_gpus": res.pop("num_gpus", 0) or None,
                      "resources": res or None}
            retries = int(self.cluster_cfg.task_retries)
            with warnings.catch_warnings():   # see _bounded: the one route Ray 2.60 has, deprecated for 2.64
                warnings.filterwarnings("ignore", message="`ray_remote_args_fn` is deprecated")
                if _has_setup(stage):
                    ds = ds.map_batches(_ShardWorker, fn_constructor_args=(stage, in_dir, out_dir), batch_size=1,
                                        compute=actor_pool(stage, self.cluster_cfg.max_actors),
                                        ray_remote_args_fn=_bounded("max_task_retries", retries), **remote)
                else:
                    ds = ds.map_batches(_run_task, fn_args=(stage, in_dir, out_dir), batch_size=1,
                                        ray_remote_args_fn=_bounded("max_retries", retries), **remote)
            if progress:
                progress.stage_started(stage.name, len(shards))
        out = []
        try:
            with _stderr_without(_RAY_ACTOR_ARGS_LINE):
                for row in ds.iter_rows():
                    for stats in json.loads(row["stats"]):
                        out.append(stats)
                        if progress:
                            progress.shard_done(stats)
        except Exception as err:
            failed = _shard_failure(err)
            if failed is None:
                raise
            raise ShardFailed(failed) from None
        return out
