"""What a stage's worker was given: shared by the LLM backends (torch threads) and the sandbox (warm workers)."""

from __future__ import annotations

import os
import sys


def worker_cpus() -> int:
    """The CPUs this worker may use: Ray's assignment inside a Ray task or actor, else the CPU affinity."""
    if "ray" in sys.modules:  # never import Ray just to ask: the local executor and tests run without it
        import ray

        # Only a worker process (task or actor) has an assignment; the driver, which the local executor runs
        # in, may have Ray initialized too, and Ray refuses the question there.
        if ray.is_initialized() and ray.get_runtime_context().worker.mode == ray.WORKER_MODE:
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
            if cpus:
                return max(1, int(cpus))
    return max(1, len(os.sched_getaffinity(0)))
