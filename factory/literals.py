"""One notion of "the same answer", used everywhere two Python literals are compared.

The vote over sampled outputs, the sandbox's judgement of a returned value, the SFT/DPO pairs, the
constant-function check, the iteration ensemble and `factory evaluate`'s test-output accuracy all call
`same_literal` (or group by `answer_key`), so a value that wins a vote is exactly a value that passes a test.

Rules (docs/verification.md has a table of examples):
  - bool is not int: `True` and `1` are different answers (a function returning `x in xs` where an int is
    documented is wrong, and Python's `True == 1` would hide it).
  - int and float are the same answer when numerically equal within the float tolerance: `3 == 3.0`,
    `0.1 + 0.2 == 0.3`. Floats are compared on a grid of `SIG_DIGITS` significant digits (relative error about
    1e-6), not with `isclose`, because closeness is not transitive and a vote's groups must be equivalence
    classes. The price: two floats within 1e-6 that straddle a rounding edge differ (rare, and the safe side).
  - list and tuple are different types (a function documented to return a list that returns a tuple is wrong).
  - sets and dicts are unordered; frozenset equals set (literal text cannot tell them apart).
  - NaN equals NaN; -0.0 equals 0.0; strings and bytes compare exactly; None only equals None.
Anything that is not a literal of plain data is never the same as anything, itself included.
"""

from __future__ import annotations

import math

from factory.sandbox.harness import parse_literal as _parse

SIG_DIGITS = 7   # 1 part in 1e7 rounding, i.e. values within ~1e-6 relative error agree


def parse_literal(text: str | None):
    """Parse one literal (also `float('nan')`, `set()`); raise ValueError when it is not plain data."""
    if text is None:
        raise ValueError("missing literal")
    try:
        return _parse(text)
    except RecursionError as err:   # adversarial nesting is bad input, not a crash of the run
        raise ValueError("literal nested too deeply") from err


def _number_key(value: int | float):
    if isinstance(value, int):
        return ("num", value)
    if math.isnan(value):
        return ("num", "nan")
    if math.isinf(value) or value.is_integer():
        return ("num", int(value) if value.is_integer() else value)
    rounded = float(f"{value:.{SIG_DIGITS}g}")
    # A float that rounds onto an integer (2.99999999) is that integer, so it meets the int 3.
    return ("num", int(rounded) if rounded.is_integer() else rounded)


def answer_key(value):
    """A hashable key; two parsed literals are the same answer exactly when their keys are equal."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return _number_key(value)
    if value is None or isinstance(value, (str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, complex):
        return ("complex", _number_key(value.real), _number_key(value.imag))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(answer_key(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(answer_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", frozenset((answer_key(k), answer_key(v)) for k, v in value.items()))
    raise TypeError(f"not plain data: {type(value).__name__}")


def literal_key(text: str | None):
    """`answer_key` of a literal's text; raise ValueError when the text is not a literal of plain data."""
    try:
        return answer_key(parse_literal(text))
    except TypeError as err:
        raise ValueError(str(err)) from err


def same_literal(a: str | None, b: str | None) -> bool:
    """True when both texts are literals of plain data and the same answer; never raises."""
    try:
        return literal_key(a) == literal_key(b)
    except (ValueError, TypeError, RecursionError, MemoryError):
        return False
