"""The host side of the worker protocol: every reply of a batch reaches its case, however the pipe chunks them."""

from __future__ import annotations

import sys
import time

import pytest

from factory.sandbox import Case, IOTest
from factory.sandbox.base import WorkerProcess
from factory.sandbox.harness import __file__ as HARNESS
from tests.sandbox.conftest import open_sandbox

# A worker that answers a whole batch with one write: all replies arrive in one chunk of the pipe.
ONE_WRITE = f"""
import os, sys
sys.path.insert(0, {str(__import__("os").path.dirname(HARNESS))!r})
import json, struct
from harness import read_frame, write_frame
read_frame(0)
write_frame(1, {{"status": "ready"}})
request = read_frame(0)
frames = b""
for index, case in enumerate(request["cases"]):
    body = json.dumps({{"nonce": request["nonce"], "index": index, "verdicts": [{{"status": "pass"}}]}}).encode()
    frames += struct.pack(">I", len(body)) + body
os.write(1, frames)
read_frame(0)
"""


def test_replies_that_arrive_in_one_chunk_all_reach_their_cases():
    worker = WorkerProcess([sys.executable, "-I", "-c", ONE_WRITE], {}, {})
    try:
        cases = [{"solution": "", "tests": ["[1]"]} for _ in range(5)]
        start = time.monotonic()
        replies = list(worker.request(cases, [10.0] * len(cases)))
        assert replies == [[{"status": "pass"}]] * 5
        assert time.monotonic() - start < 5  # not answered by a deadline
    finally:
        worker.close()


def test_a_long_batch_keeps_its_worker():
    """Hundreds of quick cases in batches: no reply lost, so the worker is never replaced (a lost one cost the
    whole wall budget, then a fresh worker)."""
    cases = [Case(str(i), "def f(x):\n    return x + 1\n", "f", [IOTest(f"[{i}]", str(i + 1))]) for i in range(300)]
    with open_sandbox("local", "sandbox.workers=1", "sandbox.batch=16") as box:
        first = box._worker(0)
        start = time.monotonic()
        results = box.run(cases)
        assert [v[0].status for v in results] == ["pass"] * len(cases)
        assert box._workers[0] is first
        assert time.monotonic() - start < 30


def test_a_bug_on_the_host_side_raises_instead_of_leaving_holes():
    with open_sandbox("local", "sandbox.workers=2") as box:
        with pytest.raises(AttributeError):
            box.run([Case("bad", "def f(x):\n    return x\n", "f", tests=[{"inputs": "[1]", "expected": "1"}])])


@pytest.mark.parametrize("kind", ["local", "local:unshare"])
def test_workers_outlive_the_run_that_started_them(kind):
    """Workers are started from a thread that lives as long as the executor: a parent-death signal follows the
    starting thread, and one of `run`'s threads would kill its workers when that run returned."""
    cases = [Case(str(i), "def f(x):\n    return x\n", "f", [IOTest("[1]", "1")]) for i in range(8)]
    with open_sandbox(kind, "sandbox.workers=2") as box:
        box.run(cases)
        workers = list(box._workers)
        assert all(w is not None for w in workers)
        time.sleep(0.5)  # the parent-death signal is asynchronous
        assert all(w.proc.poll() is None for w in workers)
        assert [v[0].status for v in box.run(cases)] == ["pass"] * len(cases)
        assert box._workers == workers
