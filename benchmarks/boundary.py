"""Benchmark: what boundary inputs (generate.boundary_inputs) change in a run's data, against the same run without.

    FACTORY_SKIP_INSTALL=1 bash deploy/local.sh run_dir=/tmp/qs    # the quickstart, boundary inputs on (default)
    python benchmarks/boundary.py --run /tmp/qs                    # its data, and the same run without them

A run's tests rows minus their boundary inputs are exactly what the tests stage writes with
`generate.boundary_inputs=0`: boundary inputs go after every other input, so the other inputs' prompts, keys and
seeds do not change. This copies the run that way, re-runs executions -> dpo on the copy with boundary inputs off,
and prints per column: trusted problems by entry point, SFT and DPO rows per role and step, untrusted reasons,
and the share of the tests stage's output prompts that went to boundary inputs (their LLM cost).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
Y = importlib.import_module("yield")   # benchmarks/yield.py: `yield` is a keyword, so no plain import


def strip_boundary(row: dict, cfg) -> None:
    keep = [i for i, k in enumerate(row["input_kinds"]) if k != "boundary"]
    for key in ("test_inputs", "input_kinds", "output_samples", "output_reasoning", "expected", "vote_share"):
        row[key] = [row[key][i] for i in keep]


# deploy/local.sh's own overrides (the quickstart): the copy must be verified under the run's config.
QUICKSTART = ["num_problems=32", "verify.outputs=executed", "generate.styles=[mbpp]", "generate.num_solutions=8",
              "generate.input_samples=8", "generate.solution.temperature=0.6", "generate.boundary_outputs=false"]


def describe(run: Path) -> dict:
    verification = Y.rows(run / "verification")
    trusted = [r for r in verification if r["trusted"]]
    return {"trusted": ", ".join(sorted(r["entry_point"] for r in trusted)) or "-", "n": len(trusted),
            "sft": dict(Counter(f"{r['role']}/{r['step']}" for r in Y.rows(run / "sft"))),
            "dpo": dict(Counter(f"{r['role']}/{r['step']}" for r in Y.rows(run / "dpo"))),
            "untrusted": dict(Counter(r["reason"] for r in verification if not r["trusted"]).most_common(5)),
            "boundary_tests": sum(r["input_kinds"][i] == "boundary" for r in trusted for i in r["test_indices"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a finished run made with boundary inputs on")
    ap.add_argument("--work", default=None, help="where the copy goes (default RUN-no-boundary)")
    ap.add_argument("--override", nargs="*", default=QUICKSTART, help="the run's overrides (default: the quickstart's)")
    args = ap.parse_args()
    run = Path(args.run)
    off = Path(args.work or f"{run}-no-boundary")
    conf = [o for o in args.override if not o.startswith("generate.boundary_inputs=")]
    Y.rewrite_tests(run, off, [*conf, "generate.boundary_inputs=0"], strip_boundary)
    Y.factory(["generate", *conf, "generate.boundary_inputs=0", f"run_dir={off}"])
    tests = Y.rows(run / "tests")
    kinds = Counter(k for r in tests for k in r["input_kinds"])
    print(f"Run: {run} ({len(tests)} problems with tests); output prompts per input kind: {dict(kinds)}; "
          f"boundary inputs took {kinds['boundary'] / max(1, sum(kinds.values())):.0%} of the output prompts")
    print("\n| | boundary inputs on (the run) | off (the same run without them) |\n|---|---|---|")
    cols = [describe(run), describe(off)]
    for label, key in (("trusted problems", "n"), ("trusted (entry points)", "trusted"), ("SFT rows", "sft"),
                       ("DPO pairs", "dpo"), ("untrusted reasons", "untrusted"),
                       ("boundary inputs in the selected tests", "boundary_tests")):
        print(f"| {label} | " + " | ".join(str(c[key]) for c in cols) + " |")


if __name__ == "__main__":
    main()
