"""Test generation, false positives, rerank and ranking with exact expected numbers.

A competent model cannot run here, so a small scripted LLM (the `LLM` interface, nothing else faked) answers
from a script: right or known-wrong code, chosen test inputs, right or known-wrong outputs. The sandbox is real;
every number below is worked out by hand in the comments.
"""

import ast
import json
import re

import pytest
from omegaconf import OmegaConf

from factory.config import load_config
from factory.eval import testgen
from factory.eval.benchmarks import load_benchmark
from factory.eval.cli import eval_config, evaluate_model

DATA = "tests/eval/data/mbpp-sample.jsonl"

RIGHT = {
    "sum_squares": "def sum_squares(xs):\n    return sum(x * x for x in xs)\n",
    "largest": "def largest(xs):\n    return max(xs)\n",
    "count_vowels": "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s.lower())\n",
}
WRONG = {   # each fails the gold tests; the verifier's tests below catch the first two only
    "sum_squares": "def sum_squares(xs):\n    return sum(xs)\n",
    "largest": "def largest(xs):\n    return xs[0]\n",
    "count_vowels": "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)\n",   # misses upper case
}
INPUTS = {   # the verifier's test inputs: no upper-case word for count_vowels, so its wrong code slips through
    "sum_squares": ["[[1, 2, 3]]", "[[]]", "[[5]]"],
    "largest": ["[[3, 9, 2]]", "[[4]]"],
    "count_vowels": ["['hello']", "['xyz']"],
}
WRONG_OUTPUTS = {"largest([4])": "5"}   # one mistaken prediction: an invalid generated test


class ScriptedLLM:
    """Answers each prompt kind from the script above; sampled solutions are [wrong, right, wrong, wrong]."""

    def __init__(self):
        self.calls, self.prompts = [], []

    def _name(self, prompt: str) -> str:
        task = prompt.split("Task:")[-1]   # MBPP's three-shot prompt: the last task is the one asked
        return next(n for n, words in (("sum_squares", "squares"), ("largest", "largest"),
                                       ("count_vowels", "vowels")) if words in task)

    def _reply(self, prompt: str, i: int, n: int) -> str:
        name = self._name(prompt)
        if "What does `" in prompt:
            call = re.search(r"What does `(.+?)` return\?", prompt).group(1)
            if call in WRONG_OUTPUTS and (n == 1 or i == 2):   # wrong when greedy, a minority of 3 votes
                return f"Output: {WRONG_OUTPUTS[call]}"
            env = {}
            # Without chain of thought, sum_squares is answered carelessly: the plain sum.
            careless = name == "sum_squares" and "step by step" not in prompt
            exec(WRONG[name] if careless else RIGHT[name], env)
            return f"Reasoning...\nOutput: {eval(call, env)!r}"
        if "test inputs" in prompt:
            return "```python\n" + "\n".join(f"{x}  # general" for x in INPUTS[name]) + "\n```"
        code = RIGHT[name] if n == 1 or i == 1 else WRONG[name]
        return f"Here it is:\n```python\n{code}```"

    def generate(self, prompts, sampling):
        self.calls.append((len(prompts), sampling))
        self.prompts += [p[-1]["content"] for p in prompts]
        return [[self._reply(p[-1]["content"], i, sampling.n) for i in range(sampling.n)] for p in prompts]


def test_output_accuracy_on_mbpp_asserts_is_the_same_literal():
    problems = load_benchmark("mbpp", DATA)
    # MBPP's asserts parse into input/output pairs: 3 per problem.
    assert [len(p.io_tests) for p in problems] == [3, 3, 3]
    m = testgen.output_accuracy(ScriptedLLM(), problems, max_per_problem=5, max_tokens=64, seed=0)
    assert m["output_accuracy"] == {"value": pytest.approx(8 / 9), "count": 9}   # largest([4]) -> 5 is wrong

    class FloatLLM(ScriptedLLM):   # `14.0` for `14`: the same answer (factory.literals.same_literal)
        def _reply(self, prompt, i, n):
            text = super()._reply(prompt, i, n)
            return re.sub(r"Output: (-?\d+)$", r"Output: \1.0", text)

    assert testgen.output_accuracy(FloatLLM(), problems, 5, 64, 0)["output_accuracy"]["value"] == pytest.approx(8 / 9)

    class BoolLLM(ScriptedLLM):   # `False` for `0`: not the same answer (bool is not int)
        def _reply(self, prompt, i, n):
            return re.sub(r"Output: 0$", "Output: False", super()._reply(prompt, i, n))

    # sum_squares([]) == 0 and count_vowels('xyz') == 0 are now wrong too.
    assert testgen.output_accuracy(BoolLLM(), problems, 5, 64, 0)["output_accuracy"]["value"] == pytest.approx(6 / 9)


def test_generated_tests_false_positives_rerank_and_ranking(tmp_path):
    from factory.sandbox import make_sandbox

    cfg = load_config([f"run_dir={tmp_path}", "benchmark=mbpp", "sandbox.timeout=5"])
    ev = OmegaConf.merge(eval_config(cfg), {"num_samples": 4, "k": [1, 2], "mutants": 0, "num_inputs": 6})
    problems = load_benchmark("mbpp", DATA)
    with make_sandbox(cfg.sandbox) as sandbox:
        m = evaluate_model(cfg, ev, problems, sandbox, tmp_path, ScriptedLLM())

    assert m["greedy_pass@1"] == {"value": 1.0, "count": 3}
    assert m["pass@1"]["value"] == pytest.approx(0.25)              # 1 right of 4 per problem
    assert m["pass@2"]["value"] == pytest.approx(1 - 3 / 6)          # 1 - C(3,2)/C(4,2)
    assert m["output_accuracy"]["value"] == pytest.approx(8 / 9)
    # 7 generated tests, one invalid (largest([4]) == 5): the canonical solution passes 6 of them.
    assert m["testgen_tests"] == {"value": 7, "count": 3}
    assert m["testgen_case_pass_rate"] == {"value": pytest.approx(6 / 7), "count": 7}
    assert m["testgen_suite_pass_rate"] == {"value": pytest.approx(2 / 3), "count": 3}
    # 9 wrong samples (3 per problem); the 3 of count_vowels pass every valid generated test.
    assert m["false_positive_rate_samples"] == {"value": pytest.approx(1 / 3), "count": 9}
    # Rerank picks the right sample where the tests separate them, the first (wrong) one where they tie.
    assert m["rerank_pass@1"]["value"] == pytest.approx(2 / 3)
    assert m["rerank_baseline_pass@1"]["value"] == pytest.approx(0.25)
    # Ranking over gold + 4 samples per problem (see the module docstring of factory.eval.ranking):
    # sum_squares and largest order perfectly; count_vowels scores every candidate 1.0 (no correlation,
    # top-1 = 2 best of 5 tied); MAE 0, 0.4, 0.2.
    assert m["ranking_top1"] == {"value": pytest.approx((1 + 1 + 0.4) / 3), "count": 3}
    assert m["ranking_spearman"] == {"value": pytest.approx(1.0), "count": 2}
    assert m["ranking_kendall"] == {"value": pytest.approx(1.0), "count": 2}
    assert m["ranking_mae"]["value"] == pytest.approx((0 + 0.4 + 0.2) / 3)
    tests = [json.loads(line) for line in (tmp_path / "mbpp_tests.jsonl").read_text().splitlines()]
    assert {"task_id": "Mbpp/2", "inputs": "[[4]]", "expected": "5"} in tests
    assert all(ast.literal_eval(t["inputs"]) is not None for t in tests)


def test_table2_settings_share_inputs_and_differ_in_outputs(tmp_path):
    """eval.testgen.cot x votes: every setting on the same generated inputs, one row each (the paper's Table 2).
    The script: without CoT sum_squares is answered as the plain sum; largest([4]) is answered 5 when greedy and
    by one sample of three, so three votes fix it."""
    from factory.sandbox import make_sandbox

    cfg = load_config([f"run_dir={tmp_path}", "benchmark=mbpp", "sandbox.timeout=5"])
    ev = OmegaConf.merge(eval_config(cfg), {"num_samples": 4, "k": [1], "mutants": 0, "num_inputs": 6,
                                            "testgen": {"cot": [True, False], "votes": [1, 3]}})
    llm = ScriptedLLM()
    with make_sandbox(cfg.sandbox) as sandbox:
        m = evaluate_model(cfg, ev, load_benchmark("mbpp", DATA), sandbox, tmp_path, llm)
    assert sum("test inputs" in p for p in llm.prompts) == 3   # inputs asked once per problem, not per setting
    rows = {r["setting"]: r["metrics"] for r in json.loads((tmp_path / "mbpp_testgen.json").read_text())}
    assert list(rows) == ["cot=true votes=1", "cot=true votes=3", "cot=false votes=1", "cot=false votes=3"]
    got = {s: tuple(round(r[k]["value"], 4) for k in ("output_accuracy", "testgen_case_pass_rate",
                                                       "testgen_suite_pass_rate", "rerank_pass@1"))
           for s, r in rows.items()}
    # Worked out by hand: gold inputs 9 (3 per problem), generated tests 7 (3 + 2 + 2); rerank picks the
    # sample passing most generated tests, the first (wrong) one on ties; the wrong sum_squares is the plain sum.
    assert got == {
        "cot=true votes=1": (round(8 / 9, 4), round(6 / 7, 4), round(2 / 3, 4), round(2 / 3, 4)),
        "cot=true votes=3": (1.0, 1.0, 1.0, round(2 / 3, 4)),
        "cot=false votes=1": (round(6 / 9, 4), round(4 / 7, 4), round(1 / 3, 4), round(1 / 3, 4)),
        "cot=false votes=3": (round(7 / 9, 4), round(5 / 7, 4), round(2 / 3, 4), round(1 / 3, 4)),
    }
    assert m["output_accuracy"]["value"] == pytest.approx(8 / 9)   # the report is the first setting's
    table = (tmp_path / "mbpp_testgen.md").read_text()
    assert "| cot=false votes=3 | 0.778 | 0.667 | 0.714 | 0.333 |" in table
    outputs = [json.loads(x) for x in (tmp_path / "mbpp_outputs.jsonl").read_text().splitlines()]
    assert len(outputs) == 9 and sum(r["correct"] for r in outputs) == 8
