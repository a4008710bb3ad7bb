"""Repair from execution feedback (ILF, Self-Debug, Llama 3.1's self-correction): rejected code, fixed by the model.

For a problem the rule trusted (`source` = verified; a soft-trusted suite is one judgement away from a wrong one,
too thin to judge a repair by), every rejected solution that fails a trusted test is shown to the model with up
to `repair.max_feedback_tests` of those tests (the call, the expected value, what it returned or the exception)
and the model writes a fixed version, `repair.attempts` independent samples of that one prompt (the LLM and the
sandbox are separate stages, so a second attempt cannot see the first one's result).

The trusted suite is every labelled test that every chosen solution passes: all labelled tests under the strict
rule, those the chosen agree on under the relaxed one. It is wider than the `tests` kept by selection, so a
repair must get right everything the chosen solutions got right, not only eight tests. A repair passes when it
passes every test of it; a repair that is the original program again (same AST) is not run.
"""

from __future__ import annotations

from factory.prompts import chat
from factory.sandbox import Case, IOTest
from factory.stages.parse import extract_code, parse_solution
from factory.verify import labels, rules, soft


def trusted_suite(row: dict) -> list[int]:
    passed = rules.passed_tests(row["verdicts"])
    return [i for i, label in enumerate(row["labels"]) if label is not None
            and all(i in passed.get(c, set()) for c in row["chosen_solution_ids"])]


def candidates(row: dict) -> list[tuple[dict, list[str]]]:
    """(rejected solution, feedback lines) of each solution to repair; feedback empty: nothing to fix on."""
    if not (row["trusted"] and row.get("source") == "verified"):
        return []
    suite = trusted_suite(row)
    by_id = {s["solution_id"]: s for s in row["solutions"]}
    return [(by_id[sid], soft.failures(row, sid, suite, 10**9)) for sid in row["rejected_solution_ids"]
            if sid in by_id]


def prompt(row: dict, solution: dict, feedback: list[str], max_tests: int) -> list[dict[str, str]]:
    return chat("repair", problem=row["problem"], code=solution["code"], entry_point=row["entry_point"],
                failures="\n".join(feedback[:max_tests]))


def attempt(row: dict, solution: dict, index: int, prompt_: list, reply: str) -> tuple[dict | None, str]:
    """The repair record of one reply, or None and the reason it cannot be run."""
    code = extract_code(reply)
    reason = parse_solution(code, row["entry_point"])
    if reason:
        return None, f"repair_{reason}"
    if labels.program_key(code) == labels.program_key(solution["code"]):
        return None, "repair_unchanged"
    return {"solution_id": solution["solution_id"], "repair_id": f"{solution['solution_id']}/r{index}",
            "prompt": prompt_, "reply": reply, "code": code, "passed": None, "detail": ""}, ""


def case(row: dict, repair: dict) -> Case:
    return Case(repair["repair_id"], repair["code"], row["entry_point"],
                [IOTest(row["test_inputs"][i], row["labels"][i]) for i in trusted_suite(row)])


def first_passing(row: dict) -> list[dict]:
    """The first passing repair of each repaired solution, in solution order (later passing attempts of the same
    solution would weigh one fix several times)."""
    seen, out = set(), []
    for r in row.get("repairs") or []:
        if r["passed"] and r["solution_id"] not in seen:
            seen.add(r["solution_id"])
            out.append(r)
    return out
