"""Prompt fields computed from starter code: a one-line signature and an example call with the right arity.

Why: a small model shown the starter code as a python block rewrites the function instead of listing inputs
(SmolLM2-135M did so for every problem of the quickstart). A one-line signature and one example call with the
function's real name and argument types show the exact format of the answer.
"""

from __future__ import annotations

import ast

_EXAMPLES = {"int": "3", "float": "2.5", "str": '"abc"', "bool": "True", "bytes": 'b"ab"', "complex": "1j"}


def _function(signature: str, entry_point: str) -> ast.FunctionDef | None:
    """The top-level `def entry_point` of some code, or None."""
    try:
        tree = ast.parse(signature)
    except SyntaxError:
        return None
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point), None)


def param_names(code: str, entry_point: str) -> list[str]:
    """Positional parameter names of `entry_point` in `code` ([] when it is not there)."""
    fn = _function(code, entry_point)
    return [a.arg for a in fn.args.args] if fn else []


def one_line_signature(signature: str, entry_point: str) -> str:
    fn = _function(signature, entry_point)
    if fn is None:
        return signature.strip().splitlines()[0] if signature.strip() else entry_point
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    return f"def {fn.name}({ast.unparse(fn.args)}){returns}"


def example_value(annotation: ast.expr | None, depth: int = 0) -> str:
    """A small literal of the annotated type (`list[int]` -> `[1, 2, 3]`); `1` when the type says nothing."""
    if annotation is None or depth > 3:
        return "1"
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            return example_value(ast.parse(annotation.value, mode="eval").body, depth)
        except SyntaxError:
            return "1"
    name = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    name = name.attr if isinstance(name, ast.Attribute) else getattr(name, "id", "")
    inner = annotation.slice if isinstance(annotation, ast.Subscript) else None
    items = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
    if name in _EXAMPLES:
        return _EXAMPLES[name]
    if name in ("list", "List", "Sequence", "Iterable"):
        one = example_value(items[0], depth + 1)
        return f"[{one}, {one}]" if one in ('"abc"', "True") else f"[{one}, {one}, {one}]".replace("3, 3, 3", "1, 2, 3")
    if name in ("tuple", "Tuple"):
        return "(" + ", ".join(example_value(i, depth + 1) for i in items if not isinstance(i, ast.Constant)) + ")" \
            if inner is not None else "(1, 2)"
    if name in ("dict", "Dict", "Mapping"):
        key = example_value(items[0], depth + 1) if inner is not None else '"a"'
        value = example_value(items[1], depth + 1) if inner is not None and len(items) > 1 else "1"
        return f"{{{key}: {value}}}"
    if name in ("set", "Set", "frozenset"):
        return "{1, 2}" if inner is None else f"{{{example_value(items[0], depth + 1)}}}"
    if name in ("Optional",):
        return example_value(items[0], depth + 1)
    return "1"


def example_call(signature: str, entry_point: str) -> str:
    fn = _function(signature, entry_point)
    if fn is None:
        return f"{entry_point}(1)"
    return f"{entry_point}(" + ", ".join(example_value(a.annotation) for a in fn.args.args) + ")"


def test_input_fields(row: dict, num_inputs: int) -> dict:
    """The fields of the `test_inputs` template for one problem row (the tests stage and the SFT rows share it)."""
    return {"problem": row["problem"], "entry_point": row["entry_point"], "num_inputs": num_inputs,
            "signature": one_line_signature(row["signature"], row["entry_point"]),
            "example": example_call(row["signature"], row["entry_point"])}
