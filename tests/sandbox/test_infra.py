"""Sandbox faults are not wrong answers: a worker killed from outside mid-case is retried on a fresh worker and,
when retries run out, reported as `infra_error` (never a fail); a wall-clock hit of a solution the machine starved
runs again on a fresh worker, and only a second hit is the solution's timeout."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from factory.sandbox import Case, IOTest
from tests.sandbox.conftest import open_sandbox, process_children as _children

# Sleeps (no CPU) so a test can act on the worker or the child while the case runs.
SLOW = "import time\ndef f(x):\n    time.sleep(1.5)\n    return x + 1\n"
KINDS = ["local", "local:unshare"]




def _leaves(pid: int) -> list[int]:
    """Processes under `pid` with no children of their own: while a case runs, its child (the solution)."""
    tree, todo, leaves = _children(), [pid], []
    while todo:
        p = todo.pop()
        kids = tree.get(p, [])
        todo += kids
        if not kids and p != pid:
            leaves.append(p)
    return leaves


def _after(seconds: float, action) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("kind", KINDS)
def test_a_worker_killed_from_outside_mid_case_is_retried_on_a_fresh_worker(kind):
    case = Case("c", SLOW, "f", [IOTest("[1]", "2"), IOTest("[2]", "3")])
    with open_sandbox(kind, "sandbox.workers=1") as box:
        first = box._worker(0)
        killer = _after(0.5, lambda: os.kill(first.proc.pid, signal.SIGKILL))   # an OOM kill, a lost node
        (verdicts,) = box.run([case])
        killer.join()
        assert [v.status for v in verdicts] == ["pass", "pass"]
        assert box._workers[0] is not first


@pytest.mark.parametrize("kind", KINDS)
def test_a_fault_that_outlasts_the_retries_is_infra_error_not_a_fail(kind):
    cases = [Case("slow", SLOW, "f", [IOTest("[1]", "2"), IOTest("[2]", "3")]),
             Case("wrong", "def f(x):\n    return x\n", "f", [IOTest("[1]", "2")])]
    with open_sandbox(kind, "sandbox.workers=1", "sandbox.retries=0") as box:
        first = box._worker(0)
        killer = _after(0.5, lambda: os.kill(first.proc.pid, signal.SIGKILL))
        slow, wrong = box.run(cases)
        killer.join()
    assert [v.status for v in slow] == ["infra_error", "infra_error"]
    assert "sandbox fault after 1 attempts" in slow[0].detail and "worker exited" in slow[0].detail
    assert [v.status for v in wrong] == ["wrong_answer"]   # the case after it went on, on a fresh worker


@pytest.mark.parametrize("attempts,lost,detail,status", [
    (3, 3, "worker exited (-9)", "runtime_error"),          # lost in this case on 3 fresh workers: the case did it
    (1, 1, "worker exited (-9)", "infra_error"),            # once, with no retry to tell: not the solution's
    (3, 2, "worker exited (-9)", "infra_error"),            # once a sandbox_error, twice lost: no pattern
    (3, 3, "worker did not start: ready timeout", "infra_error"),
])
def test_who_is_charged_when_the_retries_run_out(attempts, lost, detail, status):
    """A solution can kill its own worker where it shares its uid (Docker; the hostile suite's `kills_parent`):
    a loss that repeats on every fresh worker is its fault; anything else is the infrastructure's."""
    from factory.sandbox.base import Sandbox

    assert Sandbox._given_up(attempts, lost, detail)[0] == status


@pytest.mark.parametrize("kind", KINDS)
def test_a_starved_solution_runs_again_and_only_a_second_wall_hit_is_a_timeout(kind):
    """SIGSTOP from outside is a machine that gives the child no CPU: the wall-clock backstop (0.5 s x 2 + 2 s)
    fires with ~0 CPU used. The re-run on a fresh worker is not stopped, so the solution passes. Code that
    really sleeps past the backstop hits it twice and is a timeout."""
    overrides = ("sandbox.workers=1", "sandbox.timeout=0.5", "sandbox.wall_factor=2")
    quick = Case("q", "import time\ndef f(x):\n    time.sleep(0.3)\n    return x + 1\n", "f",
                 [IOTest("[1]", "2"), IOTest("[5]", "6")])
    with open_sandbox(kind, *overrides) as box:
        first = box._worker(0)

        def starve():
            for pid in _leaves(first.proc.pid):
                os.kill(pid, signal.SIGSTOP)

        stopper = _after(0.1, starve)   # the first test's child, asleep in time.sleep
        start = time.monotonic()
        (verdicts,) = box.run([quick])
        stopper.join()
        assert [v.status for v in verdicts] == ["pass", "pass"]
        assert box._workers[0] is not first and time.monotonic() - start > 3   # one backstop waited out

        sleeper = Case("s", "import time\ndef f():\n    time.sleep(60)\n", "f", [IOTest("[]", "1")])
        start = time.monotonic()
        (verdicts,) = box.run([sleeper])
    assert verdicts[0].status == "timeout" and "hit twice" in verdicts[0].detail
    assert time.monotonic() - start > 6   # two backstops of 3 s
