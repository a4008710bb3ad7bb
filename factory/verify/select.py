"""Test selection: greedy branch coverage, a diversity cap on expected values, the constant-function detector.

Coverage comes from the sandbox: running an agreeing (chosen) solution on each candidate test with
`coverage=True` gives the arcs "a->b" that test executed. The solution's full set of possible arcs is not
known to the sandbox, so coverage here is relative: arcs covered by the selected tests over arcs covered by
all candidate tests. Greedy max-coverage is the classic (1 - 1/e)-approximation and costs O(k * n) set ops.
"""

from __future__ import annotations

import math
from collections import Counter

from factory.literals import literal_key, same_literal


def value_key(literal: str):
    """Key for comparing expected values; unparseable text is its own value."""
    try:
        return literal_key(literal)
    except ValueError:
        return ("text", literal)


def cap_count(max_share: float, size: int) -> int:
    """Most tests one expected value may fill in a suite of `size` (at least one)."""
    return max(1, math.floor(max_share * size + 1e-9))


def greedy_coverage(candidates: list[int], branches: dict[int, set[str]], expected: dict[int, str],
                    k: int, max_share: float = 1.0) -> list[int]:
    """Pick up to k tests (indices from `candidates`) maximising the union of covered arcs.

    Each step takes the test adding the most new arcs, ties to the earlier candidate; a test whose expected
    value already fills its cap (`max_share` of the suite) is skipped. Once no test adds arcs the remaining
    slots go to tests with values seen least, then in candidate order, so the suite stays diverse.
    """
    size = min(k, len(candidates))
    cap = cap_count(max_share, size)
    keys = {i: value_key(expected[i]) for i in candidates}
    covered: set[str] = set()
    used: Counter = Counter()
    chosen: list[int] = []
    left = list(candidates)
    while left and len(chosen) < size:
        allowed = [i for i in left if used[keys[i]] < cap]
        if not allowed:
            break
        best = max(allowed, key=lambda i: (len(branches.get(i, set()) - covered), -used[keys[i]]))
        chosen.append(best)
        left.remove(best)
        covered |= branches.get(best, set())
        used[keys[best]] += 1
    return chosen


def first_k(candidates: list[int], expected: dict[int, str], k: int, max_share: float = 1.0) -> list[int]:
    """Selection without coverage data: candidate order under the same diversity cap."""
    return greedy_coverage(candidates, {}, expected, k, max_share)


def coverage_fraction(selected: list[int], branches: dict[int, set[str]]) -> float:
    """Relative branch coverage: arcs of the selected tests over arcs of all measured tests (1.0 if none)."""
    total = set().union(*branches.values()) if branches else set()
    if not total:
        return 1.0 if branches else 0.0
    got = set().union(*(branches.get(i, set()) for i in selected)) if selected else set()
    return len(got & total) / len(total)


def constant_function_passes(expected: list[str]) -> bool:
    """Would `lambda *a: MOST_COMMON` pass every test? Such a suite cannot tell solutions apart.

    Uses the project's one answer equality (factory/literals.py), the one the sandbox judges the constant by.
    An empty suite counts as passed: it verifies nothing.
    """
    if not expected:
        return True
    keys = [value_key(e) for e in expected]
    if all(k == keys[0] for k in keys):
        return True
    top = Counter(keys).most_common(1)[0][0]
    constant = expected[keys.index(top)]
    return all(same_literal(constant, e) for e in expected)
