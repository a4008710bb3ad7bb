"""The reply formats that constrained decoding enforces, one regex per step, written once for every backend.

Why regexes: every engine that constrains decoding takes one (vLLM's structured outputs, a `vllm serve`
endpoint, xgrammar for transformers, OpenVINO GenAI), while EBNF and JSON schema are not universal. A regex
here is a full match of the whole reply: the engine may only emit text the regex can still complete, and ends
the reply when it is complete.

What each format guarantees to the parsers in factory/stages/parse.py:
- `test_inputs(entry_point, arity, n)`: a python block of 1..n lines `entry_point(a, b)  # kind`, each argument
  a Python literal (numbers, strings and bytes, True/False/None, lists, tuples, dicts and sets nested `depth`
  deep), exactly `arity` of them: every line is one input that `parse_inputs` reads.
- `test_output()`: free reasoning of at most `reasoning_lines` lines (so the answer comes before max_tokens
  does), then a last line `Output: <literal>`, which `answer_text` reads.
Limits: literals nest at most `depth` containers deep (the regex grows ~8x per level; HumanEval inputs rarely go
deeper than a list of lists), no complex numbers, no `-inf`; strings are one line with the escapes
\\n \\t \\' \\" \\\\ only.
"""

from __future__ import annotations

import re

KINDS = ("general", "corner", "difficult")

_NUMBER = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?"
_ESCAPE = r"""\\[nt'"\\]"""
_STRING = rf"""b?('([^'\\\n]|{_ESCAPE})*'|"([^"\\\n]|{_ESCAPE})*")"""
_ATOM = rf"{_NUMBER}|{_STRING}|True|False|None"
_SEP = ", ?"


def literal(depth: int = 2) -> str:
    """A regex for one Python literal with containers nested at most `depth` deep (0: atoms only)."""
    if depth <= 0:
        return f"({_ATOM})"
    inner = literal(depth - 1)
    items = f"({inner}({_SEP}{inner})*)?"
    pairs = f"(({_NUMBER}|{_STRING}): ?{inner}({_SEP}({_NUMBER}|{_STRING}): ?{inner})*)?"
    return rf"({_ATOM}|\[{items}\]|\({items},?\)|\{{{pairs}\}}|\{{{inner}({_SEP}{inner})*\}})"


def test_inputs(entry_point: str, arity: int, max_lines: int, depth: int = 2) -> str | None:
    """The test_inputs reply (prompt factory/prompts/test_inputs.txt): calls with `arity` literal arguments.
    None (a free reply) for a function of no parameters, which has no inputs to list."""
    if not re.fullmatch(r"[A-Za-z_]\w*", entry_point or "") or max_lines < 1:
        raise ValueError(f"test_inputs format: bad entry point {entry_point!r} or lines {max_lines}")
    if arity < 1:
        return None
    value = literal(depth)
    args = _SEP.join([value] * arity)
    line = rf"{entry_point}\({args}\)  # ({'|'.join(KINDS)})\n"
    return rf"```python\n({line}){{1,{int(max_lines)}}}```"


def test_output(reasoning_lines: int = 8, depth: int = 2) -> str:
    """The test_output reply (prompt factory/prompts/test_output.txt): reasoning, then `Output: <literal>`.

    The reasoning is bounded in lines, not characters: OpenVINO GenAI 2026.4 took ~40x longer per token on
    `[^`]{0,600}` than free (226 s against 5.7 s for 120 tokens), while `([^\\n]*\\n){0,8}` costs nothing; a
    line can still run to max_tokens, which then cuts the reply before its answer."""
    return rf"([^\n]*\n){{0,{int(reasoning_lines)}}}Output: {literal(depth)}"
