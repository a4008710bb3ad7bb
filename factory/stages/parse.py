"""Reading model replies: code blocks, starter signatures, test inputs, predicted outputs.

Every function returns a value or a short reason string (used as a drop reason); none raises on bad replies,
because a weak model's garbage is normal input here, not an error.
"""

from __future__ import annotations

import ast
import keyword
import re

_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)


def extract_code(reply: str) -> str | None:
    """The longest fenced code block (an unclosed last fence counts: replies get cut at max_tokens)."""
    blocks = [b.strip("\n") for b in _BLOCK.findall(reply or "") if b.strip()]
    return max(blocks, key=len) if blocks else None


def literal(text: str):
    """Parse a Python literal; raises ValueError/SyntaxError like ast.literal_eval."""
    return ast.literal_eval(text.strip())


def parse_signature(code: str) -> tuple[str, list[str], str] | str:
    """Validate starter code: exactly one top-level function with a usable name and fixed positional parameters
    that its docstring (when there is one) describes. Returns (entry_point, params, normalised starter) or a reason."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "signature_syntax_error"
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    others = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom, ast.Expr))]
    if len(funcs) != 1 or others:
        return "not_one_function"
    fn = funcs[0]
    if isinstance(fn, ast.AsyncFunctionDef) or fn.name.startswith("_") or keyword.iskeyword(fn.name):
        return "bad_entry_point"
    args = fn.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        return "variadic_parameters"
    params = [a.arg for a in args.args]
    if not params or params[0] in ("self", "cls"):
        return "no_parameters"
    doc = ast.get_docstring(fn) or ""
    if doc and not all(re.search(rf"\b{re.escape(p)}\b", doc) for p in params):
        return "undocumented_parameter"
    # Starter code keeps the signature and docstring only: a body would leak a (possibly wrong) solution.
    body = [fn.body[0]] if doc else []
    fn.body = body + [ast.Expr(ast.Constant(...))]
    return fn.name, params, ast.unparse(tree)


def parse_solution(code: str | None, entry_point: str) -> str | None:
    """None when the code is fine, else the reason it cannot be used."""
    if code is None:
        return "no_code_block"
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "syntax_error"
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return None if entry_point in names else "missing_entry_point"


def parse_inputs(reply: str, arity: int) -> list[tuple[str, str]] | str:
    """Test inputs, one literal list of positional arguments per line, with a `# kind` comment.
    Returns [(canonical literal, kind)] (duplicates removed, order kept) or a reason."""
    code = extract_code(reply) or reply or ""
    seen, out = set(), []
    for line in code.splitlines():
        text, _, comment = line.partition("#")
        text = text.strip().rstrip(",")
        if not text:
            continue
        try:
            value = literal(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if not isinstance(value, (list, tuple)) or len(value) != arity:
            continue
        canon = repr(list(value))
        if canon in seen:
            continue
        seen.add(canon)
        kind = next((k for k in ("general", "corner", "difficult") if k in comment.lower()), "general")
        out.append((canon, kind))
    return out or "no_valid_inputs"


_ANSWER = re.compile(r"^\s*\**\s*output\s*\**\s*[:=]\s*(.+?)\s*$", re.I | re.M)


def answer_text(reply: str) -> str:
    """The text after the last `Output:` line, backticks stripped; "" when there is none. Kept unparsed: the vote
    parses it, and a sample that does not parse is still a sample (it counts against the majority's share)."""
    matches = _ANSWER.findall(reply or "")
    return matches[-1].strip().strip("`").strip() if matches else ""


def call_text(entry_point: str, inputs: str) -> str:
    """`f(1, 'a')` for the literal argument list `[1, 'a']`."""
    return f"{entry_point}({inputs.strip()[1:-1]})"
