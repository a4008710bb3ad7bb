"""Verdicts of the sandbox and the comparison of returned values with expected ones.

The comparison happens here, in the host process, never in the sandbox: the untrusted child only ever sends a
literal of plain data, so no object it builds (an always-equal `__eq__`, a patched builtin) takes part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from factory.sandbox.harness import parse_literal

STATUSES = ("pass", "wrong_answer", "runtime_error", "timeout", "memory_limit", "output_limit", "syntax_error",
            "missing_entry_point", "unserializable_output", "sandbox_error")


@dataclass
class Verdict:
    status: str
    detail: str = ""            # e.g. exception type and message for runtime_error
    output: str | None = None   # I/O tests: the returned value as a canonical Python literal (repr of plain data)
    cpu_ms: float = 0.0
    branches: list[str] | None = None   # only when coverage=True: covered arcs "a->b" (line numbers) in the solution

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Verdict.status must be one of {STATUSES}, got {self.status!r}")


def outputs_equal(actual: str, expected: str) -> bool:
    """Parse both literals and compare as plain data: Python equality, floats with rel_tol=1e-6, NaN == NaN.

    False when either side is not a literal (an expected output the model wrote as prose never matches).
    """
    try:
        return _equal(parse_literal(actual), parse_literal(expected))
    except (ValueError, RecursionError):
        return False


def _equal(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not (isinstance(a, bool) or isinstance(b, bool)):
            a, b = float(a), float(b)
            if math.isnan(a) or math.isnan(b):
                return math.isnan(a) and math.isnan(b)
            return a == b or math.isclose(a, b, rel_tol=1e-6)
        return False
    if type(a) in (list, tuple) and type(a) is type(b):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return False
    return a == b
