"""Benchmark: does self-play improve the embedded default model? The paper's Table 1, measured on this machine.

    python benchmarks/selfplay.py                          # 64 problems per iteration, 2 iterations, HumanEval
    python benchmarks/selfplay.py --problems 16 --eval-limit 20 --run-dir /tmp/sp   # a quick run
    python benchmarks/selfplay.py --run-dir DIR            # a killed run resumes where it stopped

One `factory iterate iterations=2` run, as a user would start it (CPU engine `llm=openvino`, the small-model
settings of deploy/local.sh, `verify.outputs=executed`), then the Table 1 that `factory iterate` writes for the
base model, each iteration's SFT and DPO checkpoints, all evaluated in this run with the same prompts and seed.
The baseline is the base model's row. Beside each rate: its count and a 95% Wilson interval, and for the final
checkpoint against base the paired counts (items that flipped right->wrong and wrong->right, same items), since
two rates from ~164 problems differ by noise alone. Wall time per phase comes from the step markers' mtimes.
Writes docs/perf/selfplay.md (or --out).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# deploy/local.sh's settings for a 135M model (README "Quickstart"), and an evaluation that fits the machine:
# greedy code only (no sampled negatives: false positives come from AST mutants), 5 mutants per problem, and only
# the base and each DPO model evaluated (on 2 cores one evaluation of 164 problems costs about one iteration).
SETTINGS = ["verify.outputs=executed", "generate.styles=[mbpp]", "generate.num_solutions=8",
            "generate.input_samples=8", "generate.solution.temperature=0.6",
            "eval.num_samples=0", "eval.mutants=5", "eval.benchmarks=[humaneval]", "eval.checkpoints=final"]
RATES = (("greedy_pass@1", "code pass@1", "_solutions.jsonl", "passed"),
         ("output_accuracy", "test output acc", "_outputs.jsonl", "correct"))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if not n:
        return (float("nan"), float("nan"))
    p, d = k / n, 1 + z * z / n
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    centre = (p + z * z / (2 * n)) / d
    return (max(0.0, centre - half), min(1.0, centre + half))


def phases(run: Path, start: float, iterations: int) -> list[tuple[str, float]]:
    """(phase, seconds) in the order they finished, from the markers each step writes last."""
    events = []
    for i in range(iterations):
        it = run / f"iter_{i}"
        done = [p.stat().st_mtime for p in (it / "_meta").glob("*/SUCCESS")]
        if done:
            events.append((max(done), f"iter_{i} generate"))
        for kind in ("sft", "dpo"):
            m = it / "train" / kind / "metrics.json"
            if m.exists():
                events.append((m.stat().st_mtime, f"iter_{i} train {kind}"))
    for m in (run / "eval").glob("*/humaneval.json"):
        events.append((m.stat().st_mtime, f"eval {m.parent.name}"))
    events.sort()
    out, prev = [], start
    for t, name in events:
        out.append((name, max(0.0, t - prev)))
        prev = t
    return out


def items(run: Path, label: str, suffix: str, field: str) -> dict:
    """{item: right?} of one checkpoint's evaluation file (greedy solutions, or gold-input output predictions)."""
    path = run / "eval" / label / f"humaneval{suffix}"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r.get("mode", "greedy") == "greedy":
            out[(r["task_id"], r.get("inputs"))] = bool(r[field])
    return out


def render(args, run: Path, result: dict, spent: list, wall: float, reports: list) -> str:
    rows = result["checkpoints"]
    lines = ["# Self-play on the embedded default (benchmarks/selfplay.py)", "",
             f"Command: `python benchmarks/selfplay.py {' '.join(sys.argv[1:])}`; commit {args.commit}; "
             f"wall {wall / 60:.1f} min; 2-core CPU, llm=openvino, model smollm2-135m.", "",
             "## Data per iteration", "", "| iteration | problems | trusted | SFT rows | DPO rows | trained |",
             "|---|---:|---:|---|---|---|"]
    for r in reports:
        trained = ", ".join(f"{k}: {v.get('skipped') or 'yes'}" for k, v in r["train"].items())
        lines.append(f"| {r['iteration']} | {r['problems']} | {r['trusted']} | {r['sft_rows']} | {r['dpo_rows']} | "
                     f"{trained} |")
    lines += ["", "## Table 1 (HumanEval, all checkpoints in this run)", "",
              (run / "eval" / "iterations.md").read_text().strip(), "",
              "## Rates with 95% Wilson intervals, and paired flips against base", "",
              "| checkpoint | " + " | ".join(n for _, n, _, _ in RATES) + " | flips vs base (wrong->right / right->wrong) |",
              "|---|" + "---|" * (len(RATES) + 1)]
    base = {key: items(run, "base", s, f) for key, _, s, f in RATES}
    for r in rows:
        label = r.get("same_as") or r["label"]
        cells, flips = [], []
        for key, _, suffix, field in RATES:
            got = items(run, label, suffix, field)
            k, n = sum(got.values()), len(got)
            lo, hi = wilson(k, n)
            cells.append(f"{k}/{n} = {k / n:.3f} [{lo:.3f}, {hi:.3f}]" if n else "n/a")
            both = set(got) & set(base[key])
            flips.append(f"{sum(got[x] and not base[key][x] for x in both)}/"
                         f"{sum(base[key][x] and not got[x] for x in both)}")
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " | " + "; ".join(flips) + " |")
    lines += ["", "## Wall time per phase", "", "| phase | min |", "|---|---:|"]
    lines += [f"| {name} | {s / 60:.1f} |" for name, s in spent]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=64, help="synthetic problems per iteration")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--eval-limit", type=int, default=None, help="first N HumanEval problems (default: all 164)")
    ap.add_argument("--run-dir", default="/tmp/selfplay")
    ap.add_argument("--out", default=str(ROOT / "docs" / "perf" / "selfplay.md"))
    ap.add_argument("overrides", nargs="*", help="extra key=value overrides of conf/")
    args = ap.parse_args()
    args.commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip()
    run = Path(args.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    clock = run / "_selfplay_start"   # the first start: a resumed run still reports the whole wall time
    if not clock.exists():
        clock.write_text(str(time.time()))
    start = float(clock.read_text())
    cmd = [sys.executable, "-m", "factory.cli", "iterate", f"iterations={args.iterations}",
           f"num_problems={args.problems}", f"run_dir={run}", *SETTINGS,
           *([f"eval.limit={args.eval_limit}"] if args.eval_limit else []), *args.overrides]
    print("running:", " ".join(cmd[2:]), flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    with open(run / "_selfplay.log", "a") as log:
        rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc:
        sys.exit(f"factory iterate failed (rc {rc}); see {run / '_selfplay.log'}; rerun to resume")
    wall = time.time() - start
    reports = [json.loads((run / f"iter_{i}" / "iteration.json").read_text()) for i in range(args.iterations)]
    result = json.loads((run / "eval" / "iterations.json").read_text())
    text = render(args, run, result, phases(run, start, args.iterations), wall, reports)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
