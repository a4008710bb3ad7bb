"""The example calls a problem statement shows (`>>> f(1, 2)`, `assert f(3) == 4`, "Example: f([1, 2]) -> 3").

Two uses: the tests stage adds their inputs to the problem's candidate inputs (`generate.example_inputs`), and
verification may refuse a suite whose consensus contradicts an output the statement itself gives
(`verify.examples=check`, AlphaCode's filtering on the problem's example tests). A stated output is never a
label: labels stay the vote or the execution consensus, since a weak model's examples are often wrong; a
statement that contradicts its trusted solution is a bad training prompt either way.

Assumptions: examples call the entry point by name with literal arguments; a stated output is a literal that
follows the call on its line (`==`, `->`, `=>`, `=`, "returns", "should return", "is", "gives", `:`) or, for a
doctest line `>>> f(x)`, stands alone on the next line.
"""

from __future__ import annotations

import ast
import re

from factory.stages.parse import parse_inputs

_ARROW = re.compile(r"^\s*(?:==|->|=>|→|=|:|,?\s*(?:it\s+)?(?:should\s+)?(?:returns?|is|gives|outputs?|yields?)\b:?)"
                    r"\s*", re.I)


def example_calls(text: str, entry_point: str) -> list[tuple[str, int, int]]:
    """Every `entry_point(...)` call written in `text` as (one-line call text, index of its name, index just past
    its `)`), quotes respected, wherever it stands. Calls right after `def ` are the signature, not an example."""
    out, start = [], 0
    pattern = re.compile(rf"(?<![\w.]){re.escape(entry_point)}\s*\(")
    while (m := pattern.search(text, start)) is not None:
        start = m.end()
        if text[max(0, m.start() - 4): m.start()] == "def ":
            continue
        end = _closing(text, m.end() - 1)
        if end is not None:
            args = re.sub(r"\s*\n\s*(?:\.\.\.\s)?", " ", text[m.end():end])   # one line: parse_inputs reads lines
            out.append((f"{entry_point}({args})", m.start(), end + 1))
            start = end
    return out


def _closing(text: str, open_at: int) -> int | None:
    """Index of the bracket closing the one at `open_at`, skipping string literals; None when unbalanced."""
    depth, quote, i = 0, "", open_at
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i
        elif c == "\n" and depth > 0 and text[i + 1: i + 2] == "\n":
            return None   # a blank line inside the brackets: not one call
        i += 1
    return None


def example_inputs(text: str, entry_point: str, params: list[str]) -> list[str]:
    """Canonical argument lists of the example calls, in order, without duplicates."""
    calls = [c for c, _, _ in example_calls(text, entry_point)]
    found = parse_inputs("\n".join(calls), len(params), entry_point, params) if calls else []
    return [inp for inp, _ in ([] if isinstance(found, str) else found)]


def stated_outputs(text: str, entry_point: str, params: list[str]) -> dict[str, str]:
    """canonical input -> the output the statement gives for it (a literal's text), for examples that give one.
    An input stated twice with different outputs is left out: the statement contradicts itself."""
    out: dict[str, str] = {}
    clashing = set()
    for call, start, end in example_calls(text, entry_point):
        found = parse_inputs(call, len(params), entry_point, params)
        value = _stated(text, start, end)
        if isinstance(found, str) or value is None:
            continue
        key = found[0][0]
        if key in out and out[key] != value:
            clashing.add(key)
        out.setdefault(key, value)
    return {k: v for k, v in out.items() if k not in clashing}


def _stated(text: str, start: int, end: int) -> str | None:
    line_start = text.rfind("\n", 0, start) + 1
    rest = text[end:].split("\n", 1)
    tail = rest[0]
    if not tail.strip() and text[line_start:].lstrip().startswith(">>>") and len(rest) > 1:
        nxt = rest[1].split("\n", 1)[0].strip()   # a doctest: the output is the next line
        return _literal_prefix(nxt) if nxt and not nxt.startswith(">>>") else None
    m = _ARROW.match(tail)
    return _literal_prefix(tail[m.end():]) if m and m.end() else None


def _literal_prefix(text: str) -> str | None:
    """The longest prefix of `text` that is a Python literal ("5." -> "5", "[1, 2] as shown" -> "[1, 2]")."""
    text = text.strip().strip("`")
    for cut in range(len(text), 0, -1):
        if cut < len(text) and text[cut] not in " \t,.;`)":
            continue
        piece = text[:cut].strip()
        if piece.endswith(".") and _parses(piece[:-1]):
            piece = piece[:-1]   # "returns 5." ends a sentence: 5, not 5.0
        try:
            ast.literal_eval(piece)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        return piece
    return None


def _parses(text: str) -> bool:
    try:
        ast.literal_eval(text)
        return True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
