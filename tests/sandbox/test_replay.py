"""The replay judge, in process: the child's recorder makes a transcript, the worker's judge re-runs the tests on
it. Whatever a transcript claims, only the worker's own assertions on plain data make a pass."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "factory" / "sandbox"))  # as inside the sandbox
import harness_assert  # noqa: E402
import harness_child  # noqa: E402

CHECK = ("import random\ndef check(candidate):\n    assert candidate(1, 2) == 3\n"
         "    for _ in range(5):\n        a = random.randint(0, 9)\n        assert candidate(a, 1) == a + 1\n")
CASE = {"solution": "def add(a, b):\n    return a + b\n", "entry_point": "add", "assert_tests": CHECK}


def transcript(solution: str = CASE["solution"], seed: int = 7) -> dict:
    job = {"mode": "replay", "solution": solution, "entry_point": "add", "tests": CHECK, "seed": seed,
           "output_cap": 1 << 20}
    return harness_child.replay(job)


def test_an_honest_transcript_passes_and_records_every_call():
    first = transcript()
    assert first["status"] == "transcript" and len(first["calls"]) == 6
    assert harness_assert.judge(first, CASE, 7) == {"status": "pass"}


def test_a_wrong_solution_fails_on_the_worker_side():
    first = transcript("def add(a, b):\n    return a - b\n")
    verdict = harness_assert.judge(first, CASE, 7)
    assert verdict["status"] == "wrong_answer" and "line 3" in verdict["detail"]


def test_a_forged_answer_is_judged_by_the_worker():
    first = transcript()
    forged = copy.deepcopy(first)
    forged["calls"][0]["output"] = "4"  # claims add(1, 2) returned 4
    assert harness_assert.judge(forged, CASE, 7)["status"] == "wrong_answer"


@pytest.mark.parametrize("tamper", [
    lambda t: t["calls"].pop(),                                   # short: the tests make a call it lacks
    lambda t: t["calls"][1].update(args="[0, 0]"),                # other arguments than the worker's
    lambda t: t["calls"][0].update(name="other"),
])
def test_a_transcript_that_does_not_match_asks_for_a_live_rerun(tamper):
    first = transcript()
    tamper(first)
    assert harness_assert.judge(first, CASE, 7) == {"status": "diverged"}


def test_another_seed_diverges():
    assert harness_assert.judge(transcript(seed=7), CASE, 8) == {"status": "diverged"}


@pytest.mark.parametrize("entry", [{"status": "pass"}, {"status": "timeout"}, {"status": "sandbox_error"}, "x", None])
def test_a_transcript_entry_can_never_name_a_pass_a_timeout_or_an_infrastructure_failure(entry):
    first = transcript()
    if isinstance(entry, dict):
        first["calls"][0] = {**{k: first["calls"][0][k] for k in ("name", "args", "kwargs")}, **entry}
    else:
        first["calls"][0] = entry
    verdict = harness_assert.judge(first, CASE, 7)
    assert verdict["status"] in ("runtime_error", "diverged")


@pytest.mark.parametrize("first", [{"status": "pass"}, {"status": "ready", "names": {}}, {"status": "transcript"},
                                   {"status": "transcript", "names": "x", "calls": []}, [], None])
def test_a_malformed_completion_message_is_a_runtime_error(first):
    assert harness_assert.judge(first, CASE, 7)["status"] == "runtime_error"


def test_a_failure_the_tests_swallow_still_decides():
    case = {**CASE, "assert_tests": "def check(candidate):\n    try:\n        candidate(1, 2)\n"
                                     "    except BaseException:\n        pass\n"}
    first = {"status": "transcript", "names": {"add": "call"},
             "calls": [{"name": "add", "args": "[1, 2]", "kwargs": "{}", "status": "memory_limit", "detail": "x"}]}
    assert harness_assert.judge(first, case, 7) == {"status": "memory_limit", "detail": "x"}
