"""Soft verification: an LLM judgement brings back problems the rule rejected (the "verification ceiling").

The expected outputs are themselves model predictions, so a solution scoring 0.8 may be right and the failing
tests wrong. A problem is eligible when the rule found no solution at or above tau (`no_solution_passes`,
`no_solution_above_tau`) but some scored solution lies in the band [low, high]. Each band solution is shown to
the model with up to MAX_FAILURES of the tests it fails (call, label, what it returned or raised) and the model
answers `Verdict: correct|incorrect`, `samples` times. A solution with at least `votes` `correct` judgements is
chosen. Then, for the problem:
  suite     the labelled tests every soft-chosen solution passes; the tests one of them fails lose their label
            (label_reasons `soft_dropped`): never trained on as verifier data.
  trusted   when that suite still has `min_tests` tests and is no constant-function suite (else the reasons
            `soft_too_few_tests`, `soft_constant_function_suite`); `source` = soft.
  rejected  scored, non-chosen solutions failing the reduced suite: all of them (strict), one by the
            `verify.rejected` strategy (relaxed), as the rule does.
  tests     `verify.num_tests` of the suite under the `max_same_output` cap, in order (no coverage: this step has
            no sandbox).
`scores` stay those of the full labelled suite, so a soft row shows the band scores it was judged at.
"""

from __future__ import annotations

import re

from factory.prompts import chat
from factory.stages.parse import call_text
from factory.verify import rules, select

_VERDICT = re.compile(r"verdict\s*\**\s*:\s*\**\s*(correct|incorrect)\b", re.I)
# Long failure lists add tokens, not signal: a few failing cases show the disagreement.
MAX_FAILURES = 5
ELIGIBLE = ("no_solution_passes", "no_solution_above_tau")


def in_band(solution_ids: list[str], scores: list[float], low: float, high: float) -> list[str]:
    return [sid for sid, s in zip(solution_ids, scores) if low <= s <= high]


def band_solutions(row: dict, low: float, high: float) -> list[dict]:
    """The solutions of an eligible problem to judge: scored (no infra verdict), score in [low, high]."""
    if row["trusted"] or row["reason"] not in ELIGIBLE:
        return []
    infra = rules.infra_solutions(row["verdicts"])
    ids = [s["solution_id"] for s in row["solutions"]]
    band = set(in_band(ids, row["scores"], low, high)) - infra
    return [s for s in row["solutions"] if s["solution_id"] in band]


def suite_of(row: dict) -> list[int]:
    return [i for i, label in enumerate(row["labels"]) if label is not None]


def failures(row: dict, solution_id: str, suite: list[int], limit: int) -> list[str]:
    """One line per failing test of `suite`: the call, its label, what the solution returned (or its error)."""
    by_test = {int(v["test_index"]): v for v in row["verdicts"] if v["solution_id"] == solution_id}
    lines = []
    for i in suite:
        v = by_test.get(i)
        if v is not None and v["status"] == "pass":
            continue
        if v is None:
            got = "no verdict"
        elif v["output"] is not None:
            got = v["output"]
        else:
            got = f"{v['status']}: {(v['detail'] or '')[:200]}"
        lines.append(f"- {call_text(row['entry_point'], row['test_inputs'][i])}: expected "
                     f"{row['labels'][i]}, returned {got}")
        if len(lines) == limit:
            break
    return lines


def prompt(row: dict, solution: dict) -> list[dict[str, str]]:
    lines = failures(row, solution["solution_id"], suite_of(row), MAX_FAILURES)
    return chat("soft_verify", problem=row["problem"], code=solution["code"], failures="\n".join(lines))


def parse_judgement(reply: str) -> bool | None:
    """True/False from the last `Verdict:` line; None when the model gave none."""
    found = _VERDICT.findall(reply or "")
    return None if not found else found[-1].lower() == "correct"


def soft_chosen(judgements: list[dict], votes: int) -> list[str]:
    """Solution ids with at least `votes` `correct` judgements, in judgement order."""
    counts: dict[str, int] = {}
    for j in judgements:
        counts[j["solution_id"]] = counts.get(j["solution_id"], 0) + (j["correct"] is True)
    return [sid for sid, n in counts.items() if n >= votes]


def apply(row: dict, chosen: list[str], v) -> tuple[dict, str]:
    """The row trusted on the soft-chosen solutions (`v`: the plain verify options), or the row unchanged and
    the reason it stays untrusted. Returns (row, "") when trusted."""
    passed = rules.passed_tests(row["verdicts"])
    suite = [i for i in suite_of(row) if all(i in passed.get(c, set()) for c in chosen)]
    if len(suite) < int(v.min_tests):
        return row, "soft_too_few_tests"
    expected = {i: row["labels"][i] for i in suite}
    picked = select.first_k(suite, expected, int(v.num_tests), float(v.max_same_output))
    if v.drop_constant and select.constant_function_passes([expected[i] for i in picked]):
        return row, "soft_constant_function_suite"
    keep = set(suite)
    labels = [label if i in keep else None for i, label in enumerate(row["labels"])]
    reasons = [r if row["labels"][i] is None else ("" if i in keep else "soft_dropped")
               for i, r in enumerate(row["label_reasons"])]
    infra = rules.infra_solutions(row["verdicts"])
    below = [(s["solution_id"], rules.score(passed.get(s["solution_id"], set()), suite)) for s in row["solutions"]
             if s["solution_id"] not in set(chosen) | infra]
    below = [(sid, s) for sid, s in below if s < 1.0 - rules.EPS]
    if v.rule == "strict":
        rejected = [sid for sid, _ in below]
    else:
        rejected = [rules.pick_rejected(below, v.rejected, row["problem_id"])] if below else []
    out = {**row, "labels": labels, "label_reasons": reasons, "trusted": True, "reason": "", "source": "soft",
           "chosen_solution_ids": list(chosen), "rejected_solution_ids": rejected, "test_indices": picked,
           "tests": [{"inputs": row["test_inputs"][i], "expected": expected[i]} for i in picked], "coverage": None}
    return out, ""
