"""Test generation by the model acting as verifier (paper section 4.1): output prediction and whole tests.

Output accuracy: the model sees the task and a call with the benchmark's own gold inputs, and predicts the
return value; it is right when the predicted literal is the same answer as the gold literal
(`factory.literals.same_literal`: `True` is not `1`, `3` is `3.0`, a list is not a tuple). Generated tests are made
the way the factory makes them: the model writes test inputs, then predicts each input's output.

How outputs are predicted is a `Setting` (the paper's Table 2 ablation): with or without chain of thought (the
`eval_output` or `eval_output_direct` prompt), greedy (`votes=1`) or the majority of `votes` samples.

LiveCodeBench stdin/stdout problems are left out of both: their inputs are free text, not argument lists, and
LiveCodeBench's own test-output-prediction scenario is function-call based too. Skipped problems are counted.
"""

from __future__ import annotations

import ast
import dataclasses
import math

from factory.eval.benchmarks import Problem
from factory.llm.base import Sampling
from factory.prompts import chat
from factory.stages.parse import answer_text, call_text, parse_inputs
from factory.literals import same_literal
from factory.prompts.fields import example_call, param_names
from factory.verify.vote import majority


def arity(problem: Problem) -> int | None:
    """Positional parameters of the tested function: from a gold test, else from the stub's signature."""
    if problem.io_tests:
        return len(ast.literal_eval(problem.io_tests[0][0]))
    return len(param_names(problem.stub, problem.entry_point)) or None


def _stub(problem: Problem) -> str:
    return problem.stub or (problem.signature_line + "\n    ...")


def _example(problem: Problem) -> str:
    """An example call with the function's name and argument types, the format the prompt asks for."""
    return example_call(_stub(problem), problem.entry_point).replace(problem.entry_point + "(", problem.call_name + "(", 1)


def testable(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.stdin and arity(p)]


@dataclasses.dataclass(frozen=True)
class Setting:
    """How the verifier predicts an output: chain of thought or a bare answer; greedy or a majority vote."""
    cot: bool = True
    votes: int = 1          # 1: one greedy answer; K > 1: K samples at the output temperature, majority-voted

    @property
    def label(self) -> str:
        return f"cot={str(self.cot).lower()} votes={self.votes}"


def _output_prompt(problem: Problem, inputs: str, cot: bool) -> list[dict]:
    return chat("eval_output" if cot else "eval_output_direct", description=problem.description.strip(),
                call_name=problem.call_name, call=call_text(problem.call_name, inputs))


def predict_outputs(llm, items: list[tuple[Problem, str]], setting: Setting, temperature: float,
                    max_tokens: int, seed: int) -> list[str | None]:
    """Per (problem, inputs), the predicted output as a canonical literal, or None when none parses (or a vote
    ties). One vote is greedy; more are sampled and majority-voted as the factory's verifier does."""
    if not items:
        return []
    greedy = setting.votes == 1
    sampling = Sampling(n=setting.votes, temperature=0.0 if greedy else temperature,
                        top_p=1.0 if greedy else 0.95, max_tokens=max_tokens, seed=seed)
    replies = llm.generate([_output_prompt(p, inputs, setting.cot) for p, inputs in items], sampling)
    return [majority([answer_text(r) for r in samples])[0] for samples in replies]


def _same_literal(predicted: str | None, gold: str) -> bool:
    return predicted is not None and same_literal(predicted, gold)


def output_predictions(llm, problems: list[Problem], max_per_problem: int, max_tokens: int, seed: int,
                       setting: Setting = Setting(), temperature: float = 0.8) -> list[dict]:
    """The model's output for each gold test input (the first `max_per_problem` of each testable problem), one
    row each: task_id, inputs, gold, predicted (None: nothing parsed), correct. The rows are what the paper's
    Table 3 compares between two models."""
    items = [(p, t) for p in testable(problems) for t in p.io_tests[:max_per_problem]]
    predicted = predict_outputs(llm, [(p, inputs) for p, (inputs, _) in items], setting, temperature,
                                max_tokens, seed)
    return [{"task_id": p.task_id, "inputs": inputs, "gold": gold, "predicted": pred,
             "correct": _same_literal(pred, gold)} for pred, (p, (inputs, gold)) in zip(predicted, items)]


def accuracy_metrics(rows: list[dict], num_problems: int) -> dict:
    correct = [r["correct"] for r in rows]
    return {
        "output_accuracy": {"value": sum(correct) / len(correct) if correct else math.nan, "count": len(correct)},
        "output_accuracy_problems": {"value": len({r["task_id"] for r in rows}), "count": num_problems},
    }


def output_accuracy(llm, problems: list[Problem], max_per_problem: int, max_tokens: int, seed: int,
                    setting: Setting = Setting(), temperature: float = 0.8) -> dict:
    """Share of gold test inputs whose output the model predicts (same_literal with the gold output)."""
    rows = output_predictions(llm, problems, max_per_problem, max_tokens, seed, setting, temperature)
    return accuracy_metrics(rows, len(problems))


def test_inputs(llm, problems: list[Problem], num_inputs: int, max_tokens: int,
                seed: int) -> list[tuple[Problem, str]]:
    """The model's own test inputs (greedy), as (problem, inputs literal) pairs, for every testable problem."""
    usable = testable(problems)
    prompts = [chat("eval_tests", description=p.description.strip(), call_name=p.call_name,
                    num_inputs=num_inputs, arity=arity(p), example=_example(p)) for p in usable]
    replies = llm.generate(prompts, Sampling(n=1, temperature=0.0, max_tokens=max_tokens, seed=seed))
    items = []
    for problem, reply in zip(usable, replies):
        parsed = parse_inputs(reply[0], arity(problem), problem.call_name, param_names(_stub(problem), problem.entry_point))
        if isinstance(parsed, list):   # else a reason string: the model gave no usable inputs
            items += [(problem, inputs) for inputs, _kind in parsed[:num_inputs]]
    return items


def complete_tests(llm, problems: list[Problem], items: list[tuple[Problem, str]], setting: Setting,
                   temperature: float, max_tokens: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """Per testable problem, (inputs literal, expected literal) tests: the outputs of `items` predicted under
    `setting`. Inputs without a parseable (or untied) output are dropped: a test with no expected value cannot
    judge anything. The same inputs serve every setting, so settings differ in their outputs only."""
    outputs = predict_outputs(llm, items, setting, temperature, max_tokens, seed)
    tests: dict[str, list[tuple[str, str]]] = {p.task_id: [] for p in testable(problems)}
    for (problem, inputs), expected in zip(items, outputs):
        if expected is not None:
            tests[problem.task_id].append((inputs, expected))
    return tests


def generate_tests(llm, problems: list[Problem], num_inputs: int, setting: Setting, temperature: float,
                   max_tokens: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """Per testable problem, the model's own tests: its inputs, then its outputs for them."""
    items = test_inputs(llm, problems, num_inputs, max_tokens, seed)
    return complete_tests(llm, problems, items, setting, temperature, max_tokens, seed)
