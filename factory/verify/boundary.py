"""Boundary inputs: each argument's type at its smallest (0, 1, 2, 3 for an int; '' and 'a' for a str; [] and a
one-element list for a list), put into an input the suite already has, one argument at a time.

Why: programs that agree on every input the model and the statement propose can still part at the edges nobody
proposed (HumanEval 31: three programs agree on is_prime of 1, 4, 6, 11, 61, 101 and 13441; one of them returns
False for 2 and 3). A weak model seldom proposes edges, and a type's smallest values are where off-by-one and
empty-case readings show. Under execution consensus a boundary input can only split programs (the consensus set
then excludes the minority, or the problem is untrusted on a tie); its label is what most of the programs that
return every other label return.

They are probes, not the task's own examples: outside the task's domain (0 for a positive int) a right program
may crash, so a crash on a boundary input does not bar a program from vouching for labels
(`labels.executed_labels`), and the consensus set already leaves out inputs any member crashes on.
"""

from __future__ import annotations

import ast

from factory.verify.vote import canonical_literal

KIND = "boundary"


def indices(row: dict) -> set[int]:
    """Which of a tests row's inputs are boundary inputs."""
    return {i for i, k in enumerate(row.get("input_kinds") or []) if k == KIND}


def _values(value) -> list:
    """The smallest values of `value`'s type (bool before int: True is an int to Python)."""
    if isinstance(value, bool):
        return [False, True]
    if isinstance(value, int):
        return [0, 1, 2, 3]
    if isinstance(value, float):
        return [0.0, 1.0]
    if isinstance(value, str):
        return ["", "a"]
    if isinstance(value, list):
        return [[]] + ([value[:1]] if value else [])
    if isinstance(value, tuple):
        return [()] + ([value[:1]] if value else [])
    if isinstance(value, dict):
        return [{}]
    return []


def boundary_inputs(inputs: list[str], limit: int) -> list[str]:
    """Up to `limit` canonical argument lists not in `inputs`, made from the first of `inputs`: its arguments
    changed one at a time, taking the first boundary value of every argument before the second of any."""
    if limit <= 0 or not inputs:
        return []
    try:
        template = ast.literal_eval(inputs[0])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return []
    if not isinstance(template, list):
        return []
    choices = [_values(arg) for arg in template]
    seen, out = set(inputs), []
    for rank in range(max((len(c) for c in choices), default=0)):
        for pos, values in enumerate(choices):
            if rank >= len(values):
                continue
            text = canonical_literal(template[:pos] + [values[rank]] + template[pos + 1:])
            if text not in seen and len(out) < limit:
                seen.add(text)
                out.append(text)
    return out
