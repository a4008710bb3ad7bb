"""HE-R built on this machine, scored by three verifiers in the same run: the gold tests (the ceiling), the
embedded SmolLM2-135M's generated tests, and a constant verifier (the chance floor).

    python benchmarks/herank.py                         # 164 problems, gold + 10 mutants each; SmolLM2 on 20
    python benchmarks/herank.py --model-problems 40 --record   # also write docs/perf/herank.md

Candidates are HumanEval's canonical solutions and their AST mutants (no model samples: sampling 164 x 10
solutions with SmolLM2 takes hours here), selected the paper's way (factory/eval/herank.py). The model writes
`--inputs` test inputs per problem and predicts each output without chain of thought (greedy, `--max-tokens`),
for the first `--model-problems` problems of the set; every verifier is also reported on that subset.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from factory.config import load_config
from factory.eval import candidates, herank, testgen
from factory.eval.benchmarks import load_benchmark
from factory.eval.ranking import scoring_metrics
from factory.sandbox import make_sandbox

METRICS = ("top1", "bottom1", "spearman", "kendall", "mae")


def table(rows, scores) -> dict:
    groups: dict[str, tuple[list, list]] = {}
    for r, s in zip(rows, scores):
        groups.setdefault(r["task_id"], ([], []))[0].append(s)
        groups[r["task_id"]][1].append(r["score"])
    return {k: v["value"] for k, v in scoring_metrics(list(groups.values())).items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mutants", type=int, default=10)
    ap.add_argument("--limit", type=int, default=None, help="first N HumanEval problems only")
    ap.add_argument("--timeout", type=float, default=3.0, help="sandbox CPU seconds per test")
    ap.add_argument("--model-problems", type=int, default=20)
    ap.add_argument("--inputs", type=int, default=6)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--llm", default="openvino", help="conf/llm preset (openvino: 8x hf on this CPU)")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    cfg = load_config(["model=smollm2-135m", f"llm={args.llm}", f"sandbox.timeout={args.timeout}"])
    problems = load_benchmark("humaneval", limit=args.limit)
    by_id = {p.task_id: p for p in problems}
    out = []
    with make_sandbox(cfg.sandbox) as sandbox:
        start = time.perf_counter()
        rows, drops = herank.build(sandbox, problems, {}, None, args.mutants, 5, 2)
        build_s = time.perf_counter() - start
        kept = list(dict.fromkeys(r["task_id"] for r in rows))
        subset = set(kept[:args.model_problems])
        gold = {}
        for g in candidates.gold_verifier_rows(problems):
            gold.setdefault(g["task_id"], []).append(("assert", g["assertion"]))
        const = {t: [("assert", "assert True")] for t in kept}
        from factory.llm import make_llm

        start = time.perf_counter()
        llm = make_llm(cfg.llm, cfg.model)
        generated = testgen.generate_tests(llm, [by_id[t] for t in kept if t in subset], args.inputs,
                                           testgen.Setting(cot=False), 0.8, args.max_tokens, cfg.seed)
        model_s = time.perf_counter() - start
        model = {t: [("io", i, e) for i, e in ts] for t, ts in generated.items()}
        for name, tests in (("gold tests (ceiling)", gold), ("constant (chance)", const),
                            ("SmolLM2-135M tests", model)):
            for label, part in (("all", rows), (f"first {len(subset)}", [r for r in rows if r["task_id"] in subset])):
                if name.startswith("SmolLM2") and label == "all":
                    continue
                scores, _ = candidates.verifier_scores(sandbox, by_id, part, tests)
                out.append((name, label, len({r["task_id"] for r in part}), len(part), table(part, scores)))
    n_tests = sum(len(v) for v in model.values())
    lines = ["# HE-R verifier benchmark", "",
             f"`python benchmarks/herank.py --limit {args.limit} --timeout {args.timeout} --mutants {args.mutants} --model-problems {args.model_problems} "
             f"--inputs {args.inputs} --max-tokens {args.max_tokens} --llm {args.llm}`; 2-core CPU machine, local sandbox.", "",
             f"HE-R built from HumanEval's canonical solutions + up to {args.mutants} AST mutants each: "
             f"{len(kept)} problems kept of {len(problems)}, {len(rows)} candidates, in {build_s:.0f} s; dropped: "
             f"{dict(drops) or 'none'}. SmolLM2 wrote {n_tests} tests for {len(subset)} problems in {model_s:.0f} s "
             f"(no chain of thought, greedy).", "",
             "| verifier | problems | n | candidates | top-1 | bottom-1 | Spearman | Kendall | MAE |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, label, n, c, m in out:
        lines.append(f"| {name} | {label} | {n} | {c} | " + " | ".join(f"{m[k]:.3f}" for k in METRICS) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        Path(__file__).resolve().parents[1].joinpath("docs/perf/herank.md").write_text(text)


if __name__ == "__main__":
    main()
