"""The hostile suite on both executors: each solution gets an allowed verdict, nothing escapes, and an honest
case in the same worker passes right after it. Then the whole suite at twice the core count, in parallel."""

from __future__ import annotations

import os
import time

import pytest

from tests.sandbox.conftest import KINDS, open_sandbox, settle, sandbox_processes
from tests.sandbox.hostile import ASSERT, HONEST, HONEST_ASSERT, IO

SUITE = IO + ASSERT


def test_suite_is_big_enough():
    assert len(SUITE) >= 25 and len({h.name for h in SUITE}) == len(SUITE)


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_suite(kind, world):
    problems = []
    with open_sandbox(kind, "sandbox.workers=1") as box:
        assert [v.status for v in box.run([world.case(HONEST)])[0]] == ["pass"]
        time.sleep(0.5)  # the worker forks its spare child right after answering
        baseline = sandbox_processes(box)
        for h in SUITE:
            verdicts = box.run([world.case(h)])[0]
            statuses = [v.status for v in verdicts]
            if not set(statuses) <= h.expect:
                problems.append(f"{h.name}: got {statuses} ({verdicts[0].detail[:120]!r}), expected {sorted(h.expect)}")
            problems += [f"{h.name}: {e}" for e in world.escapes(verdicts)]
            left = settle(box, baseline)
            if left > baseline:
                problems.append(f"{h.name}: {left - baseline} processes outlived the run")
            for honest in (HONEST, HONEST_ASSERT):
                after = box.run([world.case(honest)])[0]
                if [v.status for v in after] != ["pass"]:
                    problems.append(f"{h.name}: the next honest case got {[(v.status, v.detail) for v in after]}")
    assert not problems, "\n".join(problems)


def test_assertion_cases_judged_live(world):
    """sandbox.assert_mode=live: the tests never enter the child; every hostile assertion case still fails."""
    with open_sandbox("local", "sandbox.workers=1", "sandbox.assert_mode=live") as box:
        results = box.run([world.case(h) for h in ASSERT + [HONEST_ASSERT]])
    problems = [f"{h.name}: {[(v.status, v.detail[:80]) for v in verdicts]}"
                for h, verdicts in zip(ASSERT + [HONEST_ASSERT], results) if not {v.status for v in verdicts} <= h.expect]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_suite_under_load(kind, world):
    """Twice as many workers as cores, every hostile case beside honest ones: no honest case may time out."""
    workers = 2 * (os.cpu_count() or 1)
    cases, kinds = [], []
    for h in SUITE:
        cases += [world.case(h), world.case(HONEST, f"/{h.name}"), world.case(HONEST_ASSERT, f"/{h.name}")]
        kinds += [h, HONEST, HONEST_ASSERT]
    with open_sandbox(kind, f"sandbox.workers={workers}") as box:
        results = box.run(cases)
    problems = [f"{case.id}: {[(v.status, v.detail[:80]) for v in verdicts]}"
                for case, h, verdicts in zip(cases, kinds, results) if not {v.status for v in verdicts} <= h.expect]
    problems += world.escapes([v for verdicts in results for v in verdicts])
    assert not problems, "\n".join(problems)
