"""Verdicts of the sandbox and the comparison of returned values with expected ones.

The comparison happens here, in the host process, never in the sandbox: the untrusted child only ever sends a
literal of plain data, so no object it builds (an always-equal `__eq__`, a patched builtin) takes part.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("pass", "wrong_answer", "returned", "runtime_error", "timeout", "memory_limit", "output_limit", "syntax_error",
            "missing_entry_point", "unserializable_output", "infra_error", "sandbox_error")
# The solution's own faults: what it did (or failed to do) decides them, so they are a fail of the solution.
SOLUTION_FAULTS = ("wrong_answer", "runtime_error", "timeout", "memory_limit", "output_limit", "syntax_error",
                   "missing_entry_point", "unserializable_output")
# The sandbox could not judge the solution (a worker lost on a retry that did not repeat, a confinement that
# failed to set up, a broken protocol, after `sandbox.retries` fresh workers): neither a pass nor a fail.
# `infra_error` is what the sandbox reports; `sandbox_error` is the worker's own word for it (and the status of
# such verdicts in runs made before `infra_error` existed).
INFRA_STATUSES = ("infra_error", "sandbox_error")


def is_infra(status: str) -> bool:
    return status in INFRA_STATUSES


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
    """The project's one answer equality (factory/literals.py): bool is not int, int == float within the float
    tolerance, list is not tuple, sets and dicts unordered, NaN == NaN. False when either side is not a literal.
    """
    # Imported here: factory.literals reads literals with this package's harness, so a top-level import cycles.
    from factory.literals import same_literal

    return same_literal(actual, expected)
