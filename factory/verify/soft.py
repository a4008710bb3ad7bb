"""LLM soft verification: a second, separate signal for solutions that fail only some tests.

The expected outputs are themselves model predictions, so a solution scoring 0.8 may be right and the failing
tests wrong. For solutions whose score lies in [low, high] the model reads the problem, the code and the
failing tests and answers `Verdict: correct|incorrect`. The judgement and its reasoning are recorded in
`soft_judgements`; they never change chosen or rejected (use them downstream, e.g. as a filter or a study).
"""

from __future__ import annotations

import re

from factory.prompts import chat
from factory.stages.parse import call_text

_VERDICT = re.compile(r"verdict\s*\**\s*:\s*\**\s*(correct|incorrect)\b", re.I)
# Long failure lists add tokens, not signal: a few failing cases show the disagreement.
MAX_FAILURES = 5


def in_band(solution_ids: list[str], scores: list[float], low: float, high: float) -> list[str]:
    return [sid for sid, s in zip(solution_ids, scores) if low <= s <= high]


def failures_text(row: dict, solution_id: str, suite: list[int]) -> str:
    """One line per failing test: the call, the agreed value, what the solution returned (or its error)."""
    by_test = {v["test_index"]: v for v in row["verdicts"] if v["solution_id"] == solution_id}
    lines = []
    for i in suite:
        v = by_test.get(i)
        if v is None or v["status"] == "pass":
            continue
        got = v["output"] if v["output"] is not None else f"{v['status']}: {(v['detail'] or '')[:120]}"
        lines.append(f"- {call_text(row['entry_point'], row['test_inputs'][i])}: expected "
                     f"{row['expected'][i]}, returned {got}")
    return "\n".join(lines[:MAX_FAILURES])


def prompt(row: dict, solution: dict, suite: list[int]) -> list[dict[str, str]]:
    return chat("soft_verify", problem=row["problem"], code=solution["code"],
                failures=failures_text(row, solution["solution_id"], suite))


def parse_judgement(reply: str) -> bool | None:
    """True/False from the last `Verdict:` line; None when the model gave none."""
    found = _VERDICT.findall(reply or "")
    return None if not found else found[-1].lower() == "correct"
