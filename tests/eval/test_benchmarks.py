"""Benchmark loaders: HumanEval from its package, MBPP (both file formats), LiveCodeBench, and clear errors."""

import json

import pytest

from factory.eval.benchmarks import load_benchmark, parse_asserts, solution_source
from factory.eval.codegen import run_assertions
from factory.eval.candidates import Candidate, run_candidates

MULTIPL_E = "tests/eval/data/mbpp-py-reworded-sample.json"   # 6 records of MultiPL-E's mbpp-py-reworded.json
MBPP = "tests/eval/data/mbpp-sample.jsonl"                   # original MBPP format (text, code, test_list)
LCB = "tests/eval/data/lcb-sample.jsonl"                     # code_generation_lite rows, private tests packed


def test_humaneval_loads_with_gold_pairs():
    problems = load_benchmark("humaneval")
    assert len(problems) == 164
    p0 = problems[0]
    assert p0.task_id == "HumanEval/0" and p0.entry_point == "has_close_elements"
    assert p0.assert_tests.rstrip().endswith("check(has_close_elements)")
    assert ("[[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3]", "True") in p0.io_tests
    assert sum(len(p.io_tests) for p in problems) > 1000   # most HumanEval asserts are `candidate(...) == v`
    assert len(load_benchmark("humaneval", limit=5)) == 5


def test_parse_asserts_shapes():
    src = "def check(candidate):\n    assert candidate(1, 'a') == [1]\n    assert 3 == candidate(2, 'b')\n" \
          "    assert abs(candidate(0, '') - 1.5) < 1e-6\n    assert candidate(x) == 1\n    assert candidate(4) is None\n"
    assert parse_asserts(src, {"candidate"}) == [("[1, 'a']", "[1]"), ("[2, 'b']", "3"), ("[4]", "None")]


def test_solution_source_handles_whole_functions_and_bodies():
    p = load_benchmark("humaneval", limit=1)[0]
    body = "    return False\n"
    assert solution_source(p, body) == p.stub + body
    whole = "def has_close_elements(numbers, threshold):\n    return False\n"
    assert solution_source(p, whole) == p.stub + "\n" + whole


def test_mbpp_both_formats_run_in_the_sandbox(sandbox):
    reworded = load_benchmark("mbpp", MULTIPL_E)
    assert [p.entry_point for p in reworded][:2] == ["check_value", "min_Jumps"]
    assert all(len(p.io_tests) == 3 and p.canonical is None for p in reworded)
    original = load_benchmark("mbpp", MBPP)
    assert [p.task_id for p in original] == ["Mbpp/1", "Mbpp/2", "Mbpp/3"]
    assert original[0].description.startswith("Write a function") and "assert" not in original[0].description
    sum_div = next(p for p in reworded if p.entry_point == "sum_div")
    right = "    return sum(i for i in range(1, number) if number % i == 0)\n"
    wrong = "    return sum(i for i in range(1, number + 1) if number % i == 0)\n"
    problems = {p.task_id: p for p in original + [sum_div]}
    items = [(p.task_id, p.canonical) for p in original] + [
        (sum_div.task_id, solution_source(sum_div, right)), (sum_div.task_id, solution_source(sum_div, wrong))]
    assert [v.status for v in run_assertions(sandbox, problems, items)] == ["pass"] * 4 + ["wrong_answer"]


def test_livecodebench_functional_and_stdin(sandbox):
    problems = load_benchmark("livecodebench", LCB)
    functional, stdin = problems
    assert (functional.stdin, stdin.stdin) == (False, True)
    assert len(functional.io_tests) == 3 and len(stdin.io_tests) == 2   # public + decoded private tests
    assert functional.call_name == "addTwo"
    add = "class Solution:\n    def addTwo(self, a, b):\n        return a + b\n"
    bad_add = "class Solution:\n    def addTwo(self, a, b):\n        return a - b\n"
    prog = "n = int(input())\nprint(sum(map(int, input().split())))\n"
    bad_prog = "n = int(input())\nprint(input().split()[0])\n"   # right only when N == 1
    by_id = {p.task_id: p for p in problems}
    items = [(functional.task_id, solution_source(functional, c)) for c in (add, bad_add)] + \
            [(stdin.task_id, solution_source(stdin, c)) for c in (prog, bad_prog)]
    statuses = [v.status for v in run_assertions(sandbox, by_id, items)]
    assert statuses[0] == "pass" and statuses[1] != "pass" and statuses[2] == "pass" and statuses[3] != "pass"
    # The I/O mode sees the same programs through the same entry point, test by test.
    cands = {stdin.task_id: [Candidate("sample", solution_source(stdin, prog), True),
                             Candidate("sample", solution_source(stdin, bad_prog), False)]}
    run_candidates(sandbox, by_id, {stdin.task_id: []}, cands)
    assert [c.gold_io for c in cands[stdin.task_id]] == [[True, True], [False, True]]


def test_missing_data_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("mbpp", "livecodebench"):
        with pytest.raises(FileNotFoundError, match="eval.data_path"):
            load_benchmark(name)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_benchmark("mbpp", str(tmp_path / "absent.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": 1, "text": "t", "test_list": ["assert f(1) == 1"]}) + "\n")
    with pytest.raises(ValueError, match=r"record 0: missing field\(s\) \['code'\]"):
        load_benchmark("mbpp", str(bad))
    with pytest.raises(ValueError, match="benchmark='apps'"):
        load_benchmark("apps")


def test_mbpp_sanitized_rows_bring_their_test_imports(tmp_path, sandbox):
    row = {"task_id": 7, "prompt": "Write a function to return the square root of x, rounded down.",
           "code": "import math\ndef isqrt(x):\n    return math.floor(math.sqrt(x))\n",
           "test_imports": ["import math"], "test_list": ["assert isqrt(17) == math.floor(4.2)"]}
    path = tmp_path / "sanitized.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (p,) = load_benchmark("mbpp", str(path))
    assert p.entry_point == "isqrt" and p.assert_tests.startswith("import math")
    assert run_assertions(sandbox, {p.task_id: p}, [(p.task_id, p.canonical)])[0].status == "pass"


@pytest.mark.parametrize("path", ["tests/eval/data/mbpp-sample.jsonl", "tests/eval/data/mbpp-py-reworded-sample.json"])
def test_mbpp_three_shot_prompt_hides_the_gold_tests(path):
    from factory.eval.codegen import codegen_prompt

    three = load_benchmark("mbpp", path)   # the default: the paper's unified three-shot prompt
    shown = load_benchmark("mbpp", path, mbpp_prompt="tests")
    for p3, pt in zip(three, shown):
        text = codegen_prompt(p3)[0]["content"]
        assert text.count("Task:") == 4 and text.count("```python") == 3   # three worked examples, then the task
        assert f"Function: def {p3.entry_point}(" in text.split("Task:")[-1]
        assert "assert" not in text and "candidate" not in text and '"""' not in text
        assert p3.assert_tests == pt.assert_tests and p3.io_tests == pt.io_tests   # same tests judge the code
    if "sample.jsonl" in path:   # MBPP's own form shows the gold asserts
        assert "assert sum_squares([1, 2, 3]) == 14" in codegen_prompt(shown[0])[0]["content"]
    else:   # MultiPL-E: the task is the stub's docstring, the signature its `def` line
        assert "Function: def min_Jumps(steps: Tuple[int, int], d: int) -> float:" in codegen_prompt(three[1])[0][
            "content"]
    with pytest.raises(ValueError, match="eval.mbpp_prompt='zero'"):
        load_benchmark("mbpp", path, mbpp_prompt="zero")
