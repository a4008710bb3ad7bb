"""Majority vote over the K sampled expected outputs of one test input (paper section 3.1), with a quorum.

Samples are compared with the project's one notion of "the same answer" (factory/literals.py): `[1, 2]` and
`[1,2]` agree, `True` and `1` do not, `3` and `3.0` do. The vote's groups are exactly the equivalence classes of
`answer_key`, so every sample of the winning group agrees with the winner in the sandbox and in the pairs.

A winner needs a quorum: at least `min_votes` samples and `min_share` of ALL K samples (unparseable ones count in
the denominator), and no other value with as many votes. A single parseable sample out of four, or a 2-2 split,
labels nothing: such a test would teach the verifier a guess and judge solutions by it.
"""

from __future__ import annotations

import math
from collections import Counter

from factory.literals import literal_key, parse_literal

NO_PARSEABLE_OUTPUT = "no_parseable_output"
WEAK_VOTE = "weak_vote"
TIED_VOTE = "tied_vote"
EPS = 1e-9


def canonical_literal(value) -> str:
    """`repr`, except for non-finite floats: `repr(inf)` is 'inf' and `repr(nan)` is 'nan', which no literal
    reader can read back; they are written `1e999`, `-1e999` and `float('nan')`."""
    if not _non_finite(value):
        return repr(value)
    if isinstance(value, float):
        return "float('nan')" if math.isnan(value) else "1e999" if value > 0 else "-1e999"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{canonical_literal(k)}: {canonical_literal(v)}" for k, v in value.items()) + "}"
    items = [canonical_literal(v) for v in value]
    if isinstance(value, list):
        return "[" + ", ".join(items) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(items) + (",)" if len(items) == 1 else ")")
    return "{" + ", ".join(items) + "}"   # a set (an empty one is finite, so it never gets here)


def _non_finite(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(k) or _non_finite(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_non_finite(v) for v in value)
    return False


def majority(samples: list[str], min_votes: int = 1, min_share: float = 0.0) -> tuple[str | None, float, str]:
    """Return (canonical literal of the winning value, its share of ALL samples, reason).

    The reason is "" for a winner, else `no_parseable_output`, `tied_vote` (two values share the top count) or
    `weak_vote` (fewer than `min_votes` votes or less than `min_share` of the samples); the literal is then None
    and the share is the top group's. The defaults (no quorum) suit a single greedy sample.
    """
    counts: Counter = Counter()
    first: dict = {}
    for text in samples:
        try:
            key = literal_key(text)
        except ValueError:
            continue
        counts[key] += 1
        first.setdefault(key, parse_literal(text))
    if not counts:
        return None, 0.0, NO_PARSEABLE_OUTPUT
    (winner, best), *rest = counts.most_common()
    share = best / len(samples)
    if rest and rest[0][1] == best:
        return None, share, TIED_VOTE
    if best < min_votes or share < min_share - EPS:
        return None, share, WEAK_VOTE
    return canonical_literal(first[winner]), share, ""
