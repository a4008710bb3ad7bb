"""The return type a problem documents, and labels that contradict it (`verify.types=check`).

Programs that agree can agree on the wrong kind of value: `None` from a function whose body only prints, the
string '123' from a `str_to_int` that forgot to convert. The signature's return annotation (`-> int`,
`-> List[str]`, `-> Optional[int]`) says what kind of value the task wants; a trusted suite whose labels are of
another kind rests on programs that do not do the task. Only the outermost kind is checked (a list, not a list
of what), int and float are one kind (a float annotation may hold an int, as in Python's numeric tower), bool
is its own kind (literals.py: `True` is not `1`), and an annotation the check cannot read (`Any`, a class, a
string forward reference) constrains nothing.
"""

from __future__ import annotations

import ast

from factory.literals import answer_key, parse_literal

_NAMES = {"int": {"number"}, "float": {"number"}, "str": {"str"}, "bool": {"bool"}, "bytes": {"bytes"},
          "list": {"list"}, "List": {"list"}, "Sequence": {"list", "tuple"}, "Iterable": None,
          "tuple": {"tuple"}, "Tuple": {"tuple"}, "dict": {"dict"}, "Dict": {"dict"}, "Mapping": {"dict"},
          "set": {"set"}, "Set": {"set"}, "frozenset": {"set"}, "FrozenSet": {"set"}, "None": {"none"}}


def kind(value) -> str:
    """The kind of a parsed literal, in the words of `_NAMES`: literals.py's own notion of a value's type (so bool
    is not a number and a set is a frozenset), under the names used here."""
    tag = answer_key(value)[0]
    return {"num": "number", "NoneType": "none"}.get(tag, tag)


def returned_kinds(signature: str, entry_point: str) -> set[str] | None:
    """The kinds of value the entry point's return annotation allows; None when there is none it can read."""
    try:
        tree = ast.parse(signature)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    fn = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and n.name == entry_point), None)
    return _kinds(fn.returns) if fn is not None and fn.returns is not None else None


def _kinds(node: ast.AST) -> set[str] | None:
    if isinstance(node, ast.Constant) and node.value is None:
        return {"none"}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):   # int | None
        left, right = _kinds(node.left), _kinds(node.right)
        return left | right if left is not None and right is not None else None
    name = node.value if isinstance(node, ast.Subscript) else node
    name = name.attr if isinstance(name, ast.Attribute) else getattr(name, "id", None)   # typing.List
    if isinstance(node, ast.Subscript) and name in ("Optional", "Union"):
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        found = [_kinds(p) for p in parts]
        if any(f is None for f in found):
            return None
        return set().union(*found) | ({"none"} if name == "Optional" else set())
    allowed = _NAMES.get(name)
    return set(allowed) if allowed else None


def mismatched_label(row: dict, labels: list) -> str | None:
    """The first label whose kind the return annotation does not allow, or None."""
    allowed = returned_kinds(row.get("signature") or "", row.get("entry_point") or "")
    if allowed is None:
        return None
    for label in labels:
        if label is None:
            continue
        try:
            value = kind(parse_literal(label))
        except (ValueError, TypeError):
            continue
        if value not in allowed:
            return label
    return None
