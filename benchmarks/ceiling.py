"""Benchmark: how much data soft verification and repair add past the strict rule, and how much of it is right.

    python benchmarks/ceiling.py --upstream /tmp/yfinal/he-executed-strict --work /tmp/ceil
    python benchmarks/ceiling.py --humaneval 16 --work /tmp/ceil   # no cached run: generates the LLM stages first
    python benchmarks/ceiling.py --humaneval 164 --override model=qwen2.5-coder-7b-instruct llm=vllm   # a GPU

The problems are HumanEval prompts (`problems_from`, as benchmarks/yield.py's precision part builds them), solved
and tested by the embedded default model (SmolLM2-135M, llm=openvino) with deploy/local.sh's small-model settings
(yield.py's SMALL, verify.outputs=executed). The LLM stages (solutions, tests) and executions are made once (or
copied from `--upstream`, refused if this config would recompute them); each mode then reruns verification,
soft, repair, repair_executions, sft and dpo on its own copy, so the columns differ only by the mode:

  strict    the baseline: the paper's rule                relaxed  verify.rule=relaxed verify.tau=0.8
  soft      verify.soft.enabled=true (LLM judgement)       repair   repair.enabled=true (LLM fix + sandbox)
  repair, attempts=3                                       soft, outputs=predicted  (the paper's voted labels)

Per mode: trusted problems (and how many are right against gold), SFT and DPO rows per role/step/source, rows
gained and lost against strict (a row is its table, role, step, problem, prompt and completion or pair), and
the precision of all rows and of the gained rows against HumanEval's gold, judged per row:
  solver SFT (solution, repair)   the completion's code passes HumanEval's tests
  solver DPO                      chosen passes them and rejected does not
  verifier test_output SFT / DPO  the label the row teaches equals what HumanEval's canonical solution returns
                                  for that input (a DPO row's rejected answer differs from the label by
                                  construction, so it is then wrong)
  verifier test_inputs SFT        the canonical solution returns a value (raises nothing) on every input
Writes docs/perf/ceiling.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
Y = importlib.import_module("yield")   # benchmarks/yield.py: `yield` is a keyword, so no plain import
ROOT = Y.ROOT
EXECUTED = "verify.outputs=executed"
MODES = {"strict": [EXECUTED], "relaxed": [EXECUTED, "verify.rule=relaxed", "verify.tau=0.8"],
         "soft": [EXECUTED, "verify.soft.enabled=true"], "repair": [EXECUTED, "repair.enabled=true"],
         "repair, attempts=3": [EXECUTED, "repair.enabled=true", "repair.attempts=3"],
         # The paper's voted labels leave problems no solution passes, the only ones soft verification judges.
         "soft, outputs=predicted": ["verify.outputs=predicted", "verify.soft.enabled=true"]}
BASE = ["executor=local", "wandb.enabled=false", *Y.SMALL[1:]]
UPSTREAM = ("solutions", "tests", "executions")


def changed_upstream(run: Path, overrides: list[str]) -> list[str]:
    """The LLM/sandbox stages of `run` this config would recompute (their recorded fingerprint differs)."""
    from factory.config import load_config
    from factory.executors.shards import read_fingerprint
    from factory.pipeline import expected_records

    want = expected_records(load_config(overrides, command="generate"), list(UPSTREAM))
    return [n for n in UPSTREAM if (read_fingerprint(run / n) or {}).get("fingerprint") != want[n]["fingerprint"]]


def upstream(args, work: Path) -> tuple[Path, str]:
    """The run holding solutions..executions and its problems_from folder (made here when none is given)."""
    if args.upstream:
        src = Path(args.upstream)
        problems_from = yaml.safe_load((src / "config.yaml").read_text())["problems_from"]
        stale = changed_upstream(src, [*BASE, *args.override, EXECUTED, f"problems_from={problems_from}",
                                       f"run_dir={src}"])
        if stale:
            sys.exit(f"{src}: this config would recompute {', '.join(stale)} (LLM stages): use another --upstream "
                     f"or none (then they are generated)")
        return src, problems_from
    problems_from = str(work / "he-problems")
    Y.humaneval_problems(args.humaneval, Path(problems_from))
    src = work / "upstream"
    Y.factory(["generate", *BASE, *args.override, EXECUTED, f"problems_from={problems_from}", f"run_dir={src}"])
    return src, problems_from


def run_modes(src: Path, problems_from: str, work: Path, override: list[str]) -> dict[str, dict]:
    out = {}
    for mode, extra in MODES.items():
        run = work / mode.replace(", ", "-").replace("=", "-")
        Y.copy_upstream(src, run)
        start = time.perf_counter()
        cpu = Y.factory(["generate", *BASE, *override, f"problems_from={problems_from}", *extra, f"run_dir={run}"])
        out[mode] = {"run": run, "wall_s": time.perf_counter() - start, "cpu_s": cpu,
                     "summary": json.loads((run / "summary.json").read_text())}
        print(f"[ceiling] {mode}: {out[mode]['wall_s']:.0f} s", flush=True)
    return out


def row_key(table: str, r: dict) -> str:
    body = r["completion"] if table == "sft" else [r["chosen"], r["rejected"]]
    return json.dumps([table, r["role"], r["step"], r["problem_id"], r["prompt"], body], sort_keys=True)


def text(messages: list[dict]) -> str:
    return messages[-1]["content"]


def verifier_index(final: list[dict]) -> tuple[dict, dict]:
    """test_output prompt -> (inputs, label) of each selected test of a trusted problem; problem -> its selected
    tests as (inputs, label): how a verifier row is traced back to the label it teaches."""
    from factory.verify.pairs import verifier_prompt

    by_prompt, suites = {}, {}
    for r in final:
        if r["trusted"]:
            suites[r["problem_id"]] = [(r["test_inputs"][i], r["labels"][i]) for i in r["test_indices"]]
            for i in r["test_indices"]:
                by_prompt[json.dumps(verifier_prompt(r, i), sort_keys=True)] = (r["test_inputs"][i], r["labels"][i])
    return by_prompt, suites


def canonical_checks(problems, tests: dict[str, set]) -> dict[tuple, str]:
    """(problem, inputs, label) -> the status of HumanEval's canonical solution on that input judged by the label:
    pass (label right), wrong_answer (valid input, wrong label), anything else (the input is invalid)."""
    from factory.config import load_config
    from factory.sandbox import Case, IOTest, make_sandbox

    by_pid = {p.task_id.replace("/", "_"): p for p in problems}
    jobs = [(pid, sorted(ts)) for pid, ts in tests.items() if ts]
    cases = [Case(id=pid, solution=by_pid[pid].canonical, entry_point=by_pid[pid].entry_point,
                  tests=[IOTest(i, label) for i, label in ts]) for pid, ts in jobs]
    with make_sandbox(load_config([]).sandbox) as box:
        verdicts = box.run(cases) if cases else []
    return {(pid, i, label): v.status for (pid, ts), vs in zip(jobs, verdicts) for (i, label), v in zip(ts, vs)}


def judge(problems, runs: dict[str, dict]) -> None:
    """Adds to each mode: its rows (key, table, role/step/source, right) and its trusted problems judged."""
    from factory.stages.parse import extract_code

    codes, tests, parsed = {}, {}, {}
    for m in runs.values():
        final = Y.rows(m["run"] / "repair_executions")
        m["final"] = final
        m["by_prompt"], m["suites"] = verifier_index(final)
        m["sft"], m["dpo"] = Y.rows(m["run"] / "sft"), Y.rows(m["run"] / "dpo")
        for pid, suite in m["suites"].items():
            tests.setdefault(pid, set()).update(suite)
        for table in ("sft", "dpo"):
            for r in m[table]:
                if r["role"] == "solver":
                    for msgs in ([r["completion"]] if table == "sft" else [r["chosen"], r["rejected"]]):
                        parsed[text(msgs)] = extract_code(text(msgs)) or ""
                        _add(codes, r["problem_id"], parsed[text(msgs)])
        for r in final:   # every sampled solution, for problem-level precision as yield.py reports it
            for s in r["solutions"]:
                _add(codes, r["problem_id"], s["code"])
    gold_ids = Y.gold_pass(problems, {pid: list(cs.values()) for pid, cs in codes.items()})
    gold = {(pid, code): gold_ids[c["solution_id"]] for pid, cs in codes.items() for code, c in cs.items()}
    status = canonical_checks(problems, tests)
    for m in runs.values():
        m["rows"] = []
        for table in ("sft", "dpo"):
            for r in m[table]:
                m["rows"].append({"key": row_key(table, r), "table": table,
                                  "kind": f"{r['role']}/{r['step']}/{r['source']}",
                                  "right": _right(table, r, m, gold, status, parsed)})
        trusted = [r for r in m["final"] if r["trusted"]]
        m["trusted"] = Counter(r["source"] for r in trusted)
        by_code = {s["solution_id"]: s["code"] for r in trusted for s in r["solutions"]}
        m["trusted_right"] = sum(all(gold[(r["problem_id"], by_code[c])] for c in r["chosen_solution_ids"])
                                 for r in trusted)


def _add(codes: dict, pid: str, code: str) -> None:
    cs = codes.setdefault(pid, {})
    cs.setdefault(code, {"solution_id": f"{pid}#{len(cs)}", "code": code})


def _right(table, r, m, gold, status, parsed) -> bool:
    pid = r["problem_id"]
    if r["role"] == "solver":
        if table == "sft":
            return gold[(pid, parsed[text(r["completion"])])]
        return gold[(pid, parsed[text(r["chosen"])])] and not gold[(pid, parsed[text(r["rejected"])])]
    if r["step"] == "test_inputs":
        return all(status[(pid, i, label)] in ("pass", "wrong_answer") for i, label in m["suites"][pid])
    inputs, label = m["by_prompt"][json.dumps(r["prompt"], sort_keys=True)]
    return status[(pid, inputs, label)] == "pass"


def compare(runs: dict[str, dict]) -> None:
    """Each mode's rows gained (not in strict) and lost (in strict, not here), as multisets of row keys."""
    base = Counter(r["key"] for r in runs["strict"]["rows"])
    for m in runs.values():
        left = Counter(base)
        m["gained"] = []
        for r in m["rows"]:
            if left[r["key"]] > 0:
                left[r["key"]] -= 1
            else:
                m["gained"].append(r)
        m["lost"] = sum(left.values())


def metrics(run: Path, stage: str) -> dict:
    from factory.executors.shards import read_stats

    total: Counter = Counter()
    for s in read_stats(run / stage):
        total.update({k: v for k, v in s["metrics"].items() if isinstance(v, int)})
        total.update({f"judgement {k}": v for k, v in (s["metrics"].get("judgements") or {}).items()})
    return dict(total)


def eligibility(final: list[dict], run: Path) -> str:
    """What soft verification could judge: the problems no solution reached tau on (before soft rewrote them),
    and how many of their scored solutions lie in [verify.soft.low, verify.soft.high]."""
    from factory.verify import soft

    band = yaml.safe_load((run / "config.yaml").read_text())["verify"]["soft"]
    verified = {r["problem_id"]: r for r in Y.rows(run / "verification")}
    rows = [verified[r["problem_id"]] for r in final if verified[r["problem_id"]]["reason"] in soft.ELIGIBLE]
    inside = sum(len(soft.band_solutions(r, float(band["low"]), float(band["high"]))) for r in rows)
    return f"{len(rows)}; {inside} / {sum(len(r['scores']) for r in rows) - inside}"


def frac(rows: list[dict], interval: bool = False) -> str:
    """right/n (share), with its 95% Wilson interval when asked: the samples here are tens of rows."""
    right, n = sum(r["right"] for r in rows), len(rows)
    if not n:
        return "0/0"
    if not interval:
        return f"{right}/{n} ({right / n:.2f})"
    p, z = right / n, 1.96
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5 / (1 + z * z / n)
    return f"{right}/{n} ({p:.2f}; {max(0.0, mid - half):.2f}-{min(1.0, mid + half):.2f})"


def listing(counts: Counter, empty: str = "0", by_name: bool = False) -> str:
    items = sorted(counts.items()) if by_name else counts.most_common()
    return ", ".join(f"{k}={v}" for k, v in items) or empty


LABELS = ["trusted problems (by source)", "untrusted problems (by reason)",
          "soft eligibility: problems with no solution at tau; their solutions in the band / below it",
          "trusted problems right against gold (all chosen pass)", "soft: problems judged, judgements",
          "repair: attempts, passing, problems repaired", "drops (soft; repair; repair_executions)",
          "SFT rows (role/step/source)", "DPO rows (role/step/source)", "**rows gained over strict (SFT / DPO)**",
          "rows lost against strict (SFT + DPO)", "precision, all SFT rows (95% Wilson)", "precision, all DPO rows",
          "**precision, gained SFT rows**", "**precision, gained DPO rows**", "wall s / CPU s (verification onward)"]


def cells(m: dict) -> list[str]:
    """One mode's column, in LABELS order."""
    soft, fixes = metrics(m["run"], "soft"), metrics(m["run"], "repair_executions")
    table = lambda rows, t: [r for r in rows if r["table"] == t]   # noqa: E731
    judgements = {k.split()[1]: v for k, v in soft.items() if k.startswith("judgement ")}
    drops = "; ".join(f"{st}: " + listing(Counter(m["summary"].get(st, {}).get("dropped", {})), "-")
                      for st in ("soft", "repair", "repair_executions"))
    return [listing(m["trusted"]), listing(Counter(r["reason"] for r in m["final"] if not r["trusted"])),
            eligibility(m["final"], m["run"]), f"{m['trusted_right']}/{sum(m['trusted'].values())}",
            f"{soft.get('soft_judged', 0)} problems, " + listing(Counter(judgements), "no judgements"),
            f"{fixes.get('attempts', 0)} attempts, {fixes.get('passed', 0)} pass, "
            f"{fixes.get('problems_repaired', 0)} problems", drops,
            *(listing(Counter(r["kind"] for r in table(m["rows"], t)), by_name=True) for t in ("sft", "dpo")),
            f"+{len(table(m['gained'], 'sft'))} / +{len(table(m['gained'], 'dpo'))}", str(m["lost"]),
            *(frac(table(m[which], t), True) for which in ("rows", "gained") for t in ("sft", "dpo")),
            f"{m['wall_s']:.0f} / {m['cpu_s']:.0f}"]


def render(args, runs: dict[str, dict], seconds: float) -> str:
    names = list(runs)
    columns = {n: cells(m) for n, m in runs.items()}
    up = runs["strict"]["summary"]
    model = "" if any(o.startswith(("model=", "llm=")) for o in args.override) else "SmolLM2-135M, llm=openvino, "
    model += "".join(f"{o}, " for o in args.override)
    lines = [f"Command: `python benchmarks/ceiling.py {' '.join(sys.argv[1:])}`; wall {seconds / 60:.1f} min; "
             f"load average at start {args.load:.1f} (shared machine).", "",
             f"{up['executions']['rows_in']} HumanEval problems with solutions and tests "
             f"(solutions stage: {up['solutions']['rows_in']} problems in); {model}"
             f"verify.outputs=executed, SMALL sampling; LLM stages reused from `{args.upstream or 'this run'}`.", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for i, label in enumerate(LABELS):
        lines.append(f"| {label} | " + " | ".join(columns[n][i] for n in names) + " |")
    kinds = sorted({r["kind"] for m in runs.values() for r in m["rows"]})
    lines += ["", "Precision per row kind (table role/step/source): all rows right/n; gained rows right/n.", "",
              "| kind | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for t in ("sft", "dpo"):
        for k in kinds:
            row = [f"{frac([r for r in m['rows'] if r['table'] == t and r['kind'] == k])}; +"
                   f"{frac([r for r in m['gained'] if r['table'] == t and r['kind'] == k])}" for m in runs.values()]
            if any(not c.startswith("0/0; +0/0") for c in row):
                lines.append(f"| {t} {k} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", default=None, help="a run with solutions..executions made with these settings")
    ap.add_argument("--humaneval", type=int, default=64, help="problems, when no --upstream is given")
    ap.add_argument("--work", default="/tmp/ceil", help="where the per-mode runs go")
    ap.add_argument("--out", default=str(ROOT / "docs" / "perf" / "ceiling.md"))
    ap.add_argument("--override", nargs="*", default=[], help="extra key=value for every run (model=..., llm=...)")
    args = ap.parse_args()
    args.load = os.getloadavg()[0]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    src, problems_from = upstream(args, work)
    n = len(Y.rows(Path(problems_from)))
    problems = Y.humaneval_problems(n, work / "gold-problems")   # the same first n: HumanEval's order
    runs = run_modes(src, problems_from, work, args.override)
    judge(problems, runs)
    compare(runs)
    text_ = render(args, runs, time.perf_counter() - start)
    print(text_)
    Path(args.out).write_text("<!-- written by benchmarks/ceiling.py -->\n" + text_)
    slim = lambda rows: [{k: v for k, v in r.items() if k != "key"} for r in rows]
    (work / "ceiling.json").write_text(json.dumps(
        {n: {**{k: v for k, v in m.items() if k in ("wall_s", "cpu_s", "summary", "trusted", "trusted_right", "lost")},
             "rows": slim(m["rows"]), "gained": slim(m["gained"])} for n, m in runs.items()}, indent=1, default=str))


if __name__ == "__main__":
    main()
