"""Model-free wrong solutions: AST mutants of a gold solution, and the mutation score of the gold tests.

One mutant = one small edit at one place inside a function body:
  flip_compare    `<` -> `>=`, `==` -> `!=`, `in` -> `not in`, ...    (negated condition)
  boundary        `<` <-> `<=`, `>` <-> `>=`                          (off-by-one in a comparison)
  off_by_one      an integer constant n -> n + 1 and n - 1
  swap_operator   `+` <-> `-`, `*` -> `+`, `/` and `//` -> `*`, ... (also in `x += ...`)
  swap_boolop     `and` <-> `or`
  drop_branch     an `if` whose test becomes `False`: its body is dropped, its `else` always runs
A mutant is only a *candidate* wrong solution: some are equivalent to the original (an unreachable branch, a
boundary no input reaches). The gold tests decide: mutants that fail them are known wrong, the rest "survive".
Killed / all is the mutation score of the gold tests, an upper bound on how much they let through being unknown.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
from collections.abc import Iterator

_NEGATE = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
_ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
          ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_BOOL = {ast.And: ast.Or, ast.Or: ast.And}
OPERATORS = ("flip_compare", "boundary", "off_by_one", "swap_operator", "swap_boolop", "drop_branch")


@dataclasses.dataclass(frozen=True)
class Mutant:
    op: str       # one of OPERATORS
    line: int     # line of the edit in the original source
    source: str   # the whole mutated program


def _sites(node: ast.AST) -> Iterator[tuple[str, object]]:
    """(operator, variant) edits possible at one node; the variant says which edit to apply."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _NEGATE:
                yield "flip_compare", i
            if type(op) in _BOUNDARY:
                yield "boundary", i
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield "off_by_one", 1
        yield "off_by_one", -1
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _ARITH:
        yield "swap_operator", None
    elif isinstance(node, ast.BoolOp):
        yield "swap_boolop", None
    elif isinstance(node, ast.If):
        yield "drop_branch", None


def _apply(node: ast.AST, op: str, variant) -> None:
    if op == "flip_compare":
        node.ops[variant] = _NEGATE[type(node.ops[variant])]()
    elif op == "boundary":
        node.ops[variant] = _BOUNDARY[type(node.ops[variant])]()
    elif op == "off_by_one":
        node.value += variant
    elif op == "swap_operator":
        node.op = _ARITH[type(node.op)]()
    elif op == "swap_boolop":
        node.op = _BOOL[type(node.op)]()
    elif op == "drop_branch":
        node.test = ast.Constant(False)


def _function_nodes(tree: ast.Module) -> list[ast.AST]:
    """Nodes inside function bodies, in a fixed order (module-level imports and constants are left alone)."""
    nodes = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nodes += [n for stmt in fn.body for n in ast.walk(stmt)]
    seen, out = set(), []
    for n in nodes:   # nested functions are walked twice: keep the first visit
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
    return out


def mutants(source: str, limit: int | None = None) -> list[Mutant]:
    """Distinct, compilable single-edit mutants of `source`. With `limit`, operators take turns (round-robin in
    source order) so a cap keeps a mix of edit kinds instead of the first N constants."""
    tree = ast.parse(source)
    original = ast.unparse(tree)
    sites = [(i, op, v) for i, node in enumerate(_function_nodes(tree)) for op, v in _sites(node)]
    by_op: dict[str, list] = {op: [s for s in sites if s[1] == op] for op in OPERATORS}
    ordered = [s for group in _round_robin(list(by_op.values())) for s in group]
    out, seen = [], {original}
    for index, op, variant in ordered:
        copied = copy.deepcopy(tree)
        node = _function_nodes(copied)[index]
        line = getattr(node, "lineno", 0)
        _apply(node, op, variant)
        text = ast.unparse(ast.fix_missing_locations(copied))
        if text in seen:
            continue
        try:
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError):
            continue
        seen.add(text)
        out.append(Mutant(op, line, text))
        if limit and len(out) >= limit:
            break
    return out


def _round_robin(groups: list[list]) -> Iterator[list]:
    for i in range(max((len(g) for g in groups), default=0)):
        yield [g[i] for g in groups if i < len(g)]


def mutation_score(killed: dict[str, list[bool]]) -> dict[str, dict]:
    """Killed share over all mutants, and its mean over problems (each problem weighs the same)."""
    flat = [k for ks in killed.values() for k in ks]
    per_problem = [sum(ks) / len(ks) for ks in killed.values() if ks]
    return {
        "mutation_score": {"value": sum(flat) / len(flat) if flat else 0.0, "count": len(flat)},
        "mutation_score_per_problem": {"value": sum(per_problem) / len(per_problem) if per_problem else 0.0,
                                       "count": len(per_problem)},
    }
