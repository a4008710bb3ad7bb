"""Scoring and the strict / relaxed rules that decide which solutions are chosen and rejected (paper 3.2, 5.2).

Score s(c, T) is the fraction of tests in T that solution c passes (a missing verdict counts as a fail).
  strict   T is trusted when at least one solution passes all of it. Chosen: every solution with s = 1.
           Rejected: every sampled solution that fails T (s < 1).
  relaxed  chosen: s >= tau. Rejected: ONE solution among those below tau, picked by the strategy
           `random` (seeded by the problem id, so reruns agree), `lowest` (smallest score) or `median`
           (the lower median by score) -- the ablation of the paper's Table 5.
The "verification ceiling" study motivates the relaxed rule: a rigid 100% rule discards useful data.

A solution with an infrastructure verdict (`infra_error`: the sandbox could not judge it, factory/sandbox/verdicts.py)
has no score: it is neither chosen nor rejected, so no SFT or DPO row rests on a sandbox fault. A problem where no
solution could be scored is untrusted with reason `infra_error`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Collection, Iterable

from factory.sandbox.verdicts import is_infra

STRATEGIES = ("random", "lowest", "median")
# Scores are ratios of small integers; compare against tau with a margin so 0.8 == 4/5 holds.
EPS = 1e-9


@dataclasses.dataclass(frozen=True)
class Decision:
    trusted: bool
    rule: str
    reason: str            # "" when trusted, else why not (no_tests, no_solutions, no_solution_passes, ...)
    chosen: list[str]
    rejected: list[str]


def passed_tests(verdicts: Iterable[dict]) -> dict[str, set[int]]:
    """solution_id -> indices of the tests it passed."""
    out: dict[str, set[int]] = {}
    for v in verdicts:
        bucket = out.setdefault(v["solution_id"], set())
        if v["status"] == "pass":
            bucket.add(int(v["test_index"]))
    return out


def infra_solutions(verdicts: Iterable[dict]) -> set[str]:
    """Ids of the solutions with any infrastructure verdict: the sandbox could not judge them."""
    return {v["solution_id"] for v in verdicts if is_infra(v["status"])}


def score(passed: set[int], suite: list[int]) -> float:
    """s(c, T); 0.0 for an empty suite (nothing was verified)."""
    if not suite:
        return 0.0
    return sum(1 for i in suite if i in passed) / len(suite)


def scores_for(solution_ids: list[str], verdicts: Iterable[dict], suite: list[int]) -> list[float]:
    passed = passed_tests(verdicts)
    return [score(passed.get(sid, set()), suite) for sid in solution_ids]


def rule_name(rule: str, tau: float, rejected: str) -> str:
    return "strict" if rule == "strict" else f"relaxed(tau={tau:g},rejected={rejected})"


def check_rule(rule: str, tau: float, rejected: str) -> None:
    """Fail early on a combination that would silently do nothing."""
    if rule not in ("strict", "relaxed"):
        raise ValueError(f"verify.rule={rule!r}: expected strict or relaxed")
    if not 0 < tau <= 1:
        raise ValueError(f"verify.tau={tau!r}: expected a number in (0, 1]")
    if rejected not in STRATEGIES:
        raise ValueError(f"verify.rejected={rejected!r}: expected one of {', '.join(STRATEGIES)}")
    if rule == "strict" and tau != 1.0:
        raise ValueError(f"verify.tau={tau:g} has no effect under verify.rule=strict: set verify.rule=relaxed")


def pick_rejected(candidates: list[tuple[str, float]], strategy: str, key: str) -> str:
    """One rejected id among (solution_id, score) candidates, all below tau."""
    if strategy == "random":
        return random.Random(key).choice(candidates)[0]
    ranked = sorted(candidates, key=lambda c: c[1])   # stable: ties keep sampling order
    return ranked[0][0] if strategy == "lowest" else ranked[(len(ranked) - 1) // 2][0]


def decide(solution_ids: list[str], scores: list[float], *, rule: str = "strict", tau: float = 1.0,
           rejected: str = "random", n_tests: int = 1, key: str = "", unscored: Collection[str] = ()) -> Decision:
    """Apply the rule to per-solution scores (aligned with `solution_ids`). `key` seeds the random strategy.
    `unscored`: solutions the sandbox could not judge (`infra_solutions`), left out of chosen and rejected."""
    check_rule(rule, tau, rejected)
    name = rule_name(rule, tau, rejected)
    if not solution_ids:
        return Decision(False, name, "no_solutions", [], [])
    if n_tests == 0:
        return Decision(False, name, "no_tests", [], [])
    skip = set(unscored)
    scored = [(sid, s) for sid, s in zip(solution_ids, scores) if sid not in skip]
    if not scored:
        return Decision(False, name, "infra_error", [], [])
    solution_ids, scores = [sid for sid, _ in scored], [s for _, s in scored]
    threshold = 1.0 if rule == "strict" else tau
    chosen = [sid for sid, s in zip(solution_ids, scores) if s >= threshold - EPS]
    below = [(sid, s) for sid, s in zip(solution_ids, scores) if s < threshold - EPS]
    if rule == "strict":
        rejected_ids = [sid for sid, _ in below]
    else:
        rejected_ids = [pick_rejected(below, rejected, key)] if below else []
    if not chosen:
        return Decision(False, name, "no_solution_passes" if rule == "strict" else "no_solution_above_tau",
                        [], rejected_ids)
    return Decision(True, name, "", chosen, rejected_ids)
