"""Test generation by the model acting as verifier (paper section 4.1): output prediction and whole tests.

Output accuracy: the model sees the task and a call with the benchmark's own gold inputs, and predicts the
return value; it is right when the predicted literal equals the gold literal (parsed, type-aware: `1` is not
`1.0` nor `True`, see factory.verify.vote). Generated tests are made the way the factory makes them: the model
writes test inputs, then predicts each input's output (greedy, or the majority of K samples).

LiveCodeBench stdin/stdout problems are left out of both: their inputs are free text, not argument lists, and
LiveCodeBench's own test-output-prediction scenario is function-call based too. Skipped problems are counted.
"""

from __future__ import annotations

import ast
import math

from factory.eval.benchmarks import Problem
from factory.llm.base import Sampling
from factory.prompts import chat
from factory.stages.parse import answer_text, call_text, parse_inputs
from factory.verify.vote import canonical_key, majority, parse_literal


def arity(problem: Problem) -> int | None:
    """Positional parameters of the tested function: from a gold test, else from the stub's signature."""
    if problem.io_tests:
        return len(ast.literal_eval(problem.io_tests[0][0]))
    try:
        tree = ast.parse(problem.stub)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == problem.entry_point:
            return len(node.args.args)
    return None


def testable(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.stdin and arity(p)]


def _output_prompt(problem: Problem, inputs: str) -> list[dict]:
    return chat("eval_output", description=problem.description.strip(), call_name=problem.call_name,
                call=call_text(problem.call_name, inputs))


def predict_outputs(llm, items: list[tuple[Problem, str]], num_outputs: int, temperature: float,
                    max_tokens: int, seed: int) -> list[str | None]:
    """Per (problem, inputs), the predicted output as a canonical literal, or None when none parses.
    One output is greedy; more are sampled and majority-voted as the factory's verifier does."""
    if not items:
        return []
    greedy = num_outputs == 1
    sampling = Sampling(n=num_outputs, temperature=0.0 if greedy else temperature, top_p=1.0 if greedy else 0.95,
                        max_tokens=max_tokens, seed=seed)
    replies = llm.generate([_output_prompt(p, inputs) for p, inputs in items], sampling)
    return [majority([answer_text(r) for r in samples])[0] for samples in replies]


def _same_literal(predicted: str | None, gold: str) -> bool:
    if predicted is None:
        return False
    try:
        return canonical_key(parse_literal(predicted)) == canonical_key(parse_literal(gold))
    except (ValueError, TypeError):
        return False


def output_accuracy(llm, problems: list[Problem], max_per_problem: int, max_tokens: int, seed: int) -> dict:
    """Share of gold test inputs whose output the model predicts exactly (greedy, one answer each)."""
    usable = testable(problems)
    items = [(p, t) for p in usable for t in p.io_tests[:max_per_problem]]
    predicted = predict_outputs(llm, [(p, inputs) for p, (inputs, _) in items], 1, 0.0, max_tokens, seed)
    correct = [_same_literal(pred, gold) for pred, (_, (_, gold)) in zip(predicted, items)]
    return {
        "output_accuracy": {"value": sum(correct) / len(correct) if correct else math.nan, "count": len(correct)},
        "output_accuracy_problems": {"value": len({p.task_id for p, _ in items}), "count": len(problems)},
    }


def generate_tests(llm, problems: list[Problem], num_inputs: int, num_outputs: int, temperature: float,
                   max_tokens: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """Per testable problem, the model's own tests as (inputs literal, expected literal) pairs. Inputs without a
    parseable predicted output are dropped: a test with no expected value cannot judge anything."""
    usable = testable(problems)
    prompts = [chat("eval_tests", description=p.description.strip(), call_name=p.call_name,
                    num_inputs=num_inputs, arity=arity(p)) for p in usable]
    replies = llm.generate(prompts, Sampling(n=1, temperature=0.0, max_tokens=max_tokens, seed=seed))
    items = []
    for problem, reply in zip(usable, replies):
        parsed = parse_inputs(reply[0], arity(problem))
        if isinstance(parsed, list):   # else a reason string: the model gave no usable inputs
            items += [(problem, inputs) for inputs, _kind in parsed[:num_inputs]]
    outputs = predict_outputs(llm, items, num_outputs, temperature, max_tokens, seed)
    tests: dict[str, list[tuple[str, str]]] = {p.task_id: [] for p in usable}
    for (problem, inputs), expected in zip(items, outputs):
        if expected is not None:
            tests[problem.task_id].append((inputs, expected))
    return tests
