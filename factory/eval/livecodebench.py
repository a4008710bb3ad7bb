"""LiveCodeBench problems (code_generation_lite, and the test-output-prediction split) as `Problem`s.

Two kinds of problems: LeetCode-style functional ones (a `Solution` class; each test input is one JSON value per
line, the output one JSON value) and stdin/stdout programs (AtCoder, Codeforces). Both become a plain function
`lcb_entry` so that the sandbox's assertion and I/O modes run them like any other benchmark: functional code gets
a one-line wrapper, stdin programs are executed inside `lcb_entry(stdin_text)` with stdin and stdout redirected.
Outputs of stdin programs are compared after stripping trailing whitespace per line, as LiveCodeBench does.
"""

from __future__ import annotations

import base64
import json
import pickle
import zlib

from factory.eval.benchmarks import Problem, need, records

ENTRY = "lcb_entry"

_STDIN_WRAPPER = '''
def {entry}(stdin_text):
    import contextlib, io, sys
    out = io.StringIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin_text.encode()))
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(_LCB_PROGRAM, "<solution>", "exec"), {{"__name__": "__main__"}})
    except SystemExit:
        pass
    finally:
        sys.stdin = sys.__stdin__
    return normalize_output(out.getvalue())


def normalize_output(text):
    return "\\n".join(line.rstrip() for line in text.strip().splitlines())
'''


def normalize_output(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def wrap_stdin_program(code: str) -> str:
    # The program is kept as a string literal: indenting arbitrary code into a function breaks multi-line strings.
    return f"_LCB_PROGRAM = {code!r}\n" + _STDIN_WRAPPER.format(entry=ENTRY)


def _decode_tests(value, where: str) -> list[dict]:
    """Public tests are a JSON string; private ones in code_generation_lite are base64(zlib(pickle(JSON)))."""
    if isinstance(value, list):
        return value
    if not value:
        return []
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(pickle.loads(zlib.decompress(base64.b64decode(value.encode()))))
    except Exception as e:
        raise ValueError(f"{where}: test cases are neither JSON nor LiveCodeBench's compressed form ({e})") from e


def _functional_pair(test: dict, where: str) -> tuple[str, str]:
    try:
        args = [json.loads(line) for line in test["input"].strip().split("\n")]
        return repr(args), repr(json.loads(test["output"]))
    except (json.JSONDecodeError, KeyError, AttributeError) as e:
        raise ValueError(f"{where}: functional test is not one JSON value per line ({e})") from e


def load_livecodebench(data_path: str | None = None, hf_dataset: str | None = None) -> list[Problem]:
    rows, source = records("livecodebench", data_path, hf_dataset)
    return [_problem(row, f"{source} record {i}") for i, row in enumerate(rows)]


def _problem(row: dict, where: str) -> Problem:
    need(row, ("question_content",), where)
    task_id = str(row.get("question_id") or row.get("task_id") or where)
    starter = row.get("starter_code") or ""
    if "test" in row and "function_name" in row:   # test_generation (test output prediction) split
        tests, func = _decode_tests(row["test"], where), row["function_name"]
    else:
        need(row, ("public_test_cases",), where)
        tests = _decode_tests(row["public_test_cases"], where) + _decode_tests(row.get("private_test_cases"), where)
        meta = row.get("metadata") or {}
        func = (json.loads(meta) if isinstance(meta, str) else meta).get("func_name")
    if not tests:
        raise ValueError(f"{where}: no test cases")
    functional = tests[0].get("testtype") == "functional" or (func and starter)
    if functional:
        pairs = [_functional_pair(t, where) for t in tests]
        prompt = f"{row['question_content']}\n\nComplete this code:\n```python\n{starter}\n```"
        suffix = f"\n\ndef {ENTRY}(*args):\n    return Solution().{func}(*args)\n" if "class Solution" in starter \
            else f"\n\n{ENTRY} = {func}\n"
    else:
        pairs = [(repr([t["input"]]), repr(normalize_output(t["output"]))) for t in tests]
        prompt = f"{row['question_content']}\n\nRead the input from stdin and write the answer to stdout."
        suffix = ""
    asserts = "".join(f"assert {ENTRY}(*{args}) == {expected}\n" for args, expected in pairs)
    return Problem(task_id=task_id, prompt=prompt, entry_point=ENTRY, assert_tests=asserts, io_tests=pairs,
                   suffix=suffix, stdin=not functional, call_name=func or ENTRY)
