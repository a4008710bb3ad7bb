"""Reading model replies: code blocks, starter signatures, test inputs, predicted outputs.

Every function returns a value or a short reason string (used as a drop reason); none raises on bad replies,
because a weak model's garbage is normal input here, not an error.
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize

from factory.verify.vote import canonical_literal

_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)


def extract_code(reply: str) -> str | None:
    """The longest fenced code block (an unclosed last fence counts: replies get cut at max_tokens), else code
    written without a fence: from the first top-level `def`/`import`/`class` line to the first line of prose."""
    blocks = [b.strip("\n") for b in _BLOCK.findall(reply or "") if b.strip()]
    return max(blocks, key=len) if blocks else _unfenced(reply or "")


_CODE_START = re.compile(r"^(def |async def |class |import |from \S+ import |@)")


def _unfenced(reply: str) -> str | None:
    lines = reply.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#@" or _CODE_START.match(lines[end])):
        end += 1
    code = "\n".join(lines[start:end]).strip("\n")
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return code


def literal(text: str):
    """Parse a Python literal; raises ValueError/SyntaxError like ast.literal_eval."""
    return ast.literal_eval(text.strip())


def parse_signature(code: str) -> tuple[str, list[str], str] | str:
    """Starter code from a model's reply: imports and the first top-level function that can be called with
    fixed positional arguments. Returns (entry_point, params, normalised starter) or a reason.

    A weak model rarely writes exactly one clean stub, so what can be repaired without changing the task is:
    a broken body under a good header (the header is kept), helper functions or statements beside it (only the
    first usable function is kept), a leading underscore (dropped from the name), `self`/`cls` and variadic or
    keyword-only parameters (dropped), a docstring that skips a parameter (fine: the problem says what it is).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        salvaged = _salvage_header(code)
        if salvaged is None:
            return "signature_syntax_error"
        tree = ast.parse(salvaged)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not funcs:
        return "not_one_function"
    reasons = []
    for fn in funcs:
        reason = _normalise(fn)
        if reason:
            reasons.append(reason)
            continue
        doc = ast.get_docstring(fn) or ""
        # Starter code keeps the signature and docstring only: a body would leak a (possibly wrong) solution.
        fn.body = ([fn.body[0]] if doc else []) + [ast.Expr(ast.Constant(...))]
        fn.decorator_list = []
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        return fn.name, [a.arg for a in fn.args.args], ast.unparse(ast.Module(body=imports + [fn], type_ignores=[]))
    return reasons[0]


def _normalise(fn: ast.FunctionDef) -> str | None:
    """Make `fn` a plain function of positional parameters in place; the reason when it cannot be."""
    name = fn.name.lstrip("_")
    if not name or keyword.iskeyword(name) or name[0].isdigit():
        return "bad_entry_point"
    args = fn.args
    positional = [a for a in args.posonlyargs + args.args if a.arg not in ("self", "cls")]
    if not positional:
        return "variadic_parameters" if (args.vararg or args.kwarg or args.kwonlyargs) else "no_parameters"
    defaults = args.defaults[-len(positional):] if len(args.defaults) > len(positional) else args.defaults
    fn.name = name
    fn.args = ast.arguments(posonlyargs=[], args=positional, vararg=None, kwonlyargs=[], kw_defaults=[],
                            kwarg=None, defaults=list(defaults))
    return None


_DEF = re.compile(r"^def [A-Za-z_]\w*\s*\(")


def _parses_code(text: str) -> bool:
    try:
        ast.parse(text)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _salvage_header(code: str) -> str | None:
    """Imports, the first top-level `def` header and its docstring when they parse, with a `...` body."""
    lines = code.splitlines()
    start = next((i for i, line in enumerate(lines) if _DEF.match(line)), None)
    if start is None:
        return None
    imports = [line for line in lines[:start] if re.match(r"^(import|from)\s", line) and _parses_code(line)]
    for end in range(start + 1, min(start + 6, len(lines)) + 1):
        header = "\n".join(lines[start:end])
        if _parses_code(header + "\n    ..."):
            break
    else:
        return None
    body = "    ..."
    for stop in range(end + 1, min(end + 40, len(lines)) + 1):   # a docstring right under the header, if whole
        doc = "\n".join(lines[end:stop])
        if doc.strip()[:3] in ('"""', "'''") and _parses_code(header + "\n" + doc + "\n    ..."):
            body = doc + "\n    ..."
            break
    return "\n".join(imports + [header, body])


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


KINDS = ("general", "corner", "difficult")
_LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)


def _code_and_comment(line: str) -> tuple[str, str]:
    """Split a line into code and its `#` comment with `tokenize`, so a `#` inside a string literal stays."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            if tok.type == tokenize.COMMENT:
                return line[: tok.start[1]], tok.string[1:]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return line, ""


def _call_args(node: ast.AST, entry_point: str | None, params: list[str]) -> list | None:
    """Literal arguments of the first call of `entry_point` in `node` (keywords mapped to parameters), else None."""
    for call in ast.walk(node):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == entry_point):
            continue
        try:
            args = [ast.literal_eval(a) for a in call.args]
            named = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        except _LITERAL_ERRORS:
            return None
        if any(k is None for k in named) or set(named) - set(params[len(args):]):
            return None   # **kwargs, or a keyword for a parameter that is not there or already given
        rest = [named[p] for p in params[len(args):] if p in named]
        if len(rest) != len(named):
            return None
        return args + rest
    return None


def _arguments(text: str, arity: int, entry_point: str | None, params: list[str]) -> list | None:
    """One input line in any form a model writes: `f(1, [2])`, `assert f(1) == 3`, `print(f(x=1))`,
    `>>> f(1)`, `[1, [2]]` (the argument list), or a bare literal when the function takes one argument (only
    on an unindented line: indented lines are function bodies and docstrings)."""
    raw_indented = text[:1] in (" ", "\t")
    text = text.strip().rstrip(",;").strip()
    text = re.sub(r"^(>>>|\.\.\.)\s*", "", text)   # a doctest line: `>>> f(1, 2)`
    if not text:
        return None
    try:
        tree = ast.parse(text)
    except _LITERAL_ERRORS:
        return None
    if entry_point:
        args = _call_args(tree, entry_point, params)
        if args is not None:
            return args if len(args) == arity else None
    if raw_indented or text[:3] in ('"""', "'''"):
        return None   # a bare literal inside a function body or a docstring is not a test input
    try:
        value = ast.literal_eval(text)
    except _LITERAL_ERRORS:
        return None
    if isinstance(value, (list, tuple)) and len(value) == arity:
        return list(value)   # the argument list; for one argument `[5]` reads as 5 (the older prompts' format)
    return [value] if arity == 1 else None


def _lines(reply: str) -> list[str]:
    """Lines of every code block first, then every other line (prose)."""
    blocks = [b for b in _BLOCK.findall(reply or "") if b.strip()]
    prose = _BLOCK.sub("\n", reply or "")
    return [line for text in blocks + [prose] for line in text.splitlines()]


def parse_inputs(reply: str, arity: int, entry_point: str | None = None, params: list[str] | None = None,
                 rejects: list | None = None) -> list[tuple[str, str]] | str:
    """Test inputs, one per line, in any of the forms `_arguments` reads, with an optional `# kind` comment.
    Returns [(canonical literal list of arguments, kind)] (duplicates removed, order kept) or a reason.

    An input that cannot be written back as a literal of plain data (NaN, an object) is not kept: it would be a
    runtime error for every solution. Its line goes to `rejects` as (reason, line) when a list is given.
    """
    params = list(params or [])
    seen, out = set(), []
    for line in _lines(reply):
        text, comment = _code_and_comment(line)
        args = _arguments(text, arity, entry_point, params)
        if args is None:
            continue
        canon = canonical_literal(args)
        if not _round_trips(canon, args):
            if rejects is not None:
                rejects.append(("unrepresentable_input", line.strip()[:200]))
            continue
        if canon in seen:
            continue
        seen.add(canon)
        kind = next((k for k in KINDS if k in comment.lower()), "general")
        out.append((canon, kind))
    return out or "no_valid_inputs"


def _round_trips(text: str, value) -> bool:
    try:
        return ast.literal_eval(text) == value and "nan" not in text
    except _LITERAL_ERRORS:
        return False


def inputs_text(entry_point: str, inputs: list[str], kinds: list[str]) -> str:
    """A reply in the format the test_inputs prompt asks for: the SFT target of the verifier's first step."""
    lines = [f"{call_text(entry_point, i)}  # {k}" for i, k in zip(inputs, kinds)]
    return "```python\n" + "\n".join(lines) + "\n```"


_ANSWER = re.compile(r"^[ \t>*#-]*\**[ \t]*output[ \t]*\**[ \t]*[:=][ \t]*\**[ \t]*(.*?)[ \t]*$", re.I | re.M)
# Looser phrasings, read only when no `Output:` line exists: "The output should be:", "the result is: 5".
_LOOSE = re.compile(r"(?:output|result|answer|return value)[ \t]+(?:is|should be|would be|will be)[ \t]*:"
                    r"[ \t]*(.*?)[ \t]*$", re.I | re.M)


def _clean(text: str) -> str:
    text = text.strip().strip("`*").strip()
    if text.endswith(".") and _parses(text[:-1]):
        text = text[:-1].rstrip()   # "Output: 5." ends a sentence; the period is not part of the number
    return text


def _parses(text: str) -> bool:
    try:
        ast.literal_eval(text.strip())
        return True
    except _LITERAL_ERRORS:
        return False


def _after(reply: str, match: re.Match) -> str:
    """The answer a match introduces: the rest of its line, or the last line of a code block right after it."""
    raw = match.group(1)
    inline = raw.strip().strip("`").strip()
    if inline and inline.lower() not in ("python", "py", "python3"):
        return _clean(raw)   # `Output: 5`, also an inline fence ```5```
    block = _BLOCK.search(reply, match.start())
    if block and block.group(1).strip() and not reply[match.end():block.start()].strip("` \t\npython"):
        return _clean(block.group(1).strip().splitlines()[-1])
    return ""


def answer_text(reply: str, entry_point: str | None = None) -> str:
    """The predicted output: the text after the last `Output:` (also `**Output:** 5`, or a code block right
    after it), else after "the output should be:", else the right-hand side of `entry_point(...) == y`; ""
    when there is none. Kept unparsed: the vote parses it, and a sample that does not parse is still a sample
    (it counts against the majority's share)."""
    reply = reply or ""
    for pattern in (_ANSWER, _LOOSE):
        matches = list(pattern.finditer(reply))
        if matches:
            return _after(reply, matches[-1])
    if entry_point:
        rhs = re.findall(rf"^\s*(?:>>>\s*)?(?:assert\s+)?{re.escape(entry_point)}\(.*\)\s*==\s*(.+?)\s*$", reply, re.M)
        return _clean(rhs[-1]) if rhs else ""
    return ""


def call_text(entry_point: str, inputs: str) -> str:
    """`f(1, 'a')` for the literal argument list `[1, 'a']`."""
    return f"{entry_point}({inputs.strip()[1:-1]})"
