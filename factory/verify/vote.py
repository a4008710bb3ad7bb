"""Majority vote over the K sampled expected outputs of one test input (paper section 3.1).

Samples are compared as parsed Python literals, never as strings: "[1, 2]" and "[1,2]" agree. The comparison
is type-aware on purpose: `True`, `1` and `1.0` are three different answers. A verifier that predicts `1.0`
for a function returning `1` has not understood the function, and `True == 1` in Python would otherwise let a
bool vote for an int. Floats compare exactly here (NaN agrees with NaN); any tolerance belongs to the sandbox's
`outputs_equal`, which judges a solution's output against the agreed value.
"""

from __future__ import annotations

import ast
import math
from collections import Counter

NO_PARSEABLE_OUTPUT = "no_parseable_output"


def parse_literal(text: str | None):
    """Parse one sampled output; raise ValueError (with the text) when it is not a Python literal."""
    if text is None:
        raise ValueError("missing output")
    try:
        return ast.literal_eval(text.strip())
    # literal_eval raises several types on bad text, and Recursion/MemoryError on adversarial nesting.
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as err:
        raise ValueError(f"not a literal: {text[:80]!r}") from err


def canonical_key(value):
    """A hashable key that is equal exactly when two parsed literals are the same typed value.

    Containers keep their type (a list is not a tuple) and sets/dicts compare as unordered collections.
    """
    if isinstance(value, bool) or value is None or isinstance(value, (int, str, bytes, complex)):
        return (type(value).__name__, value)
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(canonical_key(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(canonical_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", frozenset((canonical_key(k), canonical_key(v)) for k, v in value.items()))
    raise TypeError(f"unexpected literal type {type(value).__name__}")


def canonical_literal(value) -> str:
    """`repr`, except for infinities: `repr(inf)` is 'inf', which `literal_eval` cannot read back."""
    if not _has_inf(value):
        return repr(value)
    if isinstance(value, float):
        return "1e999" if value > 0 else "-1e999"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{canonical_literal(k)}: {canonical_literal(v)}" for k, v in value.items()) + "}"
    items = [canonical_literal(v) for v in value]
    if isinstance(value, list):
        return "[" + ", ".join(items) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(items) + (",)" if len(items) == 1 else ")")
    return "{" + ", ".join(items) + "}"   # a set (an empty one has no inf, so it never gets here)


def _has_inf(value) -> bool:
    if isinstance(value, float):
        return math.isinf(value)
    if isinstance(value, dict):
        return any(_has_inf(k) or _has_inf(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_inf(v) for v in value)
    return False


def majority(samples: list[str]) -> tuple[str | None, float, str]:
    """Return (canonical literal of the most common value, its share of ALL samples, reason).

    The share counts unparseable samples in the denominator: four samples of which one parses give 0.25,
    not 1.0, so a low vote share flags a verifier that mostly failed to answer. Ties go to the value seen
    first. `(None, 0.0, "no_parseable_output")` when no sample parses.
    """
    counts: Counter = Counter()
    first: dict = {}
    for text in samples:
        try:
            value = parse_literal(text)
            key = canonical_key(value)
        except (ValueError, TypeError):
            continue
        counts[key] += 1
        first.setdefault(key, value)
    if not counts:
        return None, 0.0, NO_PARSEABLE_OUTPUT
    best = max(counts.values())
    # dicts keep insertion order, so the first key reaching the top count is the first-seen among the tied.
    winner = next(k for k in first if counts[k] == best)
    return canonical_literal(first[winner]), best / len(samples), ""
