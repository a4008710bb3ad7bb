"""Scale: 10k and 100k problems through the non-LLM stages on local Ray; memory must stay bounded as input grows.

    python benchmarks/scale.py                      # 10k then 100k (the 10k run is the baseline of the ratios)
    python benchmarks/scale.py --rows 2000,20000     # quick
    python benchmarks/scale.py --write docs/perf/scale.md

Input rows are synthesised (no model): problem statements drawn from a fixed vocabulary with ~5% exact and ~5%
near duplicates, each problem with small solutions (one correct, the rest wrong) and I/O tests. Stages, each run
to completion before the next so its wall time is its own (the pipeline streams them; this measures them):
  dedup plan   MinHash LSH over every shard on Ray Data (factory.stages.dedup.plan_dedup)
  dedup        the per-shard filter
  synth        (not a factory stage) attach solutions and tests to the kept problems, as the LLM stages would
  executions   every solution against every test in the local sandbox (bubblewrap), actor pool on `sandbox`
  verification strict rule, no coverage re-runs by default (set --verify-coverage to include them), and no
               constant-function check (a one-test suite always fails it; see main())
Each size runs in its own process with its own local Ray, so peaks do not carry over: driver peak RSS and, per
stage, the largest single Ray worker's and the sum over all this run's Ray processes' private memory (RSS minus
shared pages, sampled every 0.25 s from the driver's process tree).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from factory.schema import TESTS
from factory.stages.base import Stage

STAGE_ORDER = ("dedup plan", "dedup", "synth", "executions", "verification")
WORDS = [f"{a}{b}" for a in ("list", "word", "sum", "count", "sort", "pair", "max", "min", "tree", "node", "path",
                             "grid", "char", "even", "odd", "prime", "digit", "range", "key", "value")
         for b in ("", "s", "ed", "ing", "er", "able", "ize", "ness", "ful", "ish")]


def problem_text(rng: random.Random) -> str:
    return "Write a function that " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 45))) + "."


def write_signatures(folder: Path, n: int, shard_size: int) -> list[str]:
    """n SIGNATURES rows in shards; every 20th repeats an earlier text, every 20th (+10) changes one word of one."""
    from factory.executors.shards import write_shard
    from factory.schema import SIGNATURES

    rng = random.Random(0)
    stage = type("Signatures", (), {"name": "signatures", "schema": SIGNATURES})()
    texts: list[str] = []
    names = []
    for start in range(0, n, shard_size):
        rows = []
        for i in range(start, min(n, start + shard_size)):
            if i % 20 == 0 and texts:
                text = rng.choice(texts)
            elif i % 20 == 10 and texts:
                words = rng.choice(texts).split()
                words[rng.randrange(3, len(words))] = rng.choice(WORDS)
                text = " ".join(words)
            else:
                text = problem_text(rng)
            texts.append(text) if len(texts) < 5000 else None   # bounded pool of originals to copy from
            rows.append({"seed_id": f"s{i}", "origin": "bench", "seed": "", "problem_id": f"p{i:07d}",
                         "style": "mbpp", "problem": text, "signature": "def f(nums: list[int]) -> int:",
                         "entry_point": "f", "params": ["nums"]})
        names.append(f"shard-{start // shard_size:05d}")
        write_shard(stage, folder, names[-1], rows, [], len(rows), 0.0)
    return names


@dataclasses.dataclass
class Synth(Stage):
    """Stands in for solutions + tests: small solutions (first correct) and I/O tests with expected outputs."""

    solutions: int = 2
    tests: int = 2
    name = "tests"
    schema = TESTS
    requires = ("problem_id",)
    batch_size = 1024

    def process(self, rows):
        bodies = ["return sum(x for x in nums if x % 2 == 0)", "return sum(nums)", "return len(nums)"]
        inputs = ["[[1, 2, 3, 4]]", "[[]]", "[[2, 2, 5]]", "[[7, 8]]"][: self.tests]
        expected = [repr(sum(x for x in eval(a)[0] if x % 2 == 0)) for a in inputs]
        for row in rows:
            pid = row["problem_id"]
            sols = [{"solution_id": f"{pid}/s{k}", "code": f"def f(nums):\n    {bodies[min(k, 2)]}\n", "reply": ""}
                    for k in range(self.solutions)]
            yield {**row, "solutions": sols, "test_inputs": inputs, "input_kinds": ["general"] * len(inputs),
                   "output_samples": [[e] * 4 for e in expected], "output_reasoning": [[""] * 4 for _ in inputs],
                   "expected": expected, "vote_share": [1.0] * len(inputs)}


class MemorySampler(threading.Thread):
    """Peak memory of this run's Ray processes, per stage (the main thread sets `stage`). Raylet, GCS and workers
    are all descendants of the driver. Private memory (RSS minus shared pages): a worker's RSS also counts the
    object-store pages it has mapped, which belong to the store, not to the worker."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stage = ""
        self.worker_peak: dict[str, int] = {}
        self.total_peak: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self):
        import psutil

        me = psutil.Process()
        while not self.stop.wait(0.25):
            total, stage = 0, self.stage
            for p in me.children(recursive=True):
                try:
                    mem = p.memory_info()
                    name = " ".join(p.cmdline()[:1])
                except psutil.Error:
                    continue
                private = mem.rss - mem.shared
                total += private
                if name.startswith("ray::"):
                    self.worker_peak[stage] = max(self.worker_peak.get(stage, 0), private)
            self.total_peak[stage] = max(self.total_peak.get(stage, 0), total)


def run_one(n: int, shard_size: int, overrides: list[str], solutions: int, tests: int) -> dict:
    from factory.config import load_config
    from factory.executors.ray_data import RayExecutor
    from factory.executors.shards import read_stats
    from factory.pipeline import build_stage
    from factory.stages.dedup import plan_dedup

    work = Path(tempfile.mkdtemp(prefix=f"scale{n}-"))
    cfg = load_config([f"run_dir={work}", f"shard_size={shard_size}", *overrides])
    shards = write_signatures(work / "signatures", n, shard_size)
    executor = RayExecutor(cfg.cluster)
    sampler = MemorySampler()
    sampler.start()
    walls = {}
    sampler.stage = "dedup plan"
    t = time.perf_counter()
    files = sorted(str(p) for p in (work / "signatures").glob("shard-*.parquet"))
    plan_dedup(files, str(work / "_meta" / "dedup" / "duplicates.parquet"), cfg.dedup, use_ray=True)
    walls["dedup plan"] = time.perf_counter() - t
    chain = [("dedup", build_stage(cfg, "dedup", work), work / "signatures"),
             ("synth", Synth(solutions, tests), work / "dedup"),
             ("executions", build_stage(cfg, "executions", work), work / "tests"),
             ("verification", build_stage(cfg, "verification", work), work / "executions")]
    for label, stage, in_dir in chain:
        sampler.stage = label
        t = time.perf_counter()
        executor.run_chain([(stage, in_dir, work / stage.name)], shards)
        walls[label] = time.perf_counter() - t
    sampler.stop.set()
    sampler.join()
    rows_in = {"dedup plan": n}
    for label, stage, _ in chain:
        stats = read_stats(work / stage.name)
        rows_in[label] = sum(s["rows_in"] for s in stats)
    ver = read_stats(work / "verification")
    result = {"rows": n, "shards": len(shards), "walls": walls, "rows_in": rows_in,
            "kept_after_dedup": sum(s["rows_out"] for s in read_stats(work / "dedup")),
            "trusted": sum(s["metrics"].get("trusted", 0) for s in ver),
            "driver_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_mb": {k: v / 2**20 for k, v in sampler.worker_peak.items()},
            "ray_total_peak_mb": {k: v / 2**20 for k, v in sampler.total_peak.items()},
            "shard_size": shard_size}
    shutil.rmtree(work)
    return result


def report(results: list[dict]) -> str:
    lines = ["| rows | stage | rows in | wall s | rows/s | largest worker MB | all Ray processes MB |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for r in results:
        for st in STAGE_ORDER:
            w = r["walls"][st]
            lines.append(f"| {r['rows']} | {st} | {r['rows_in'][st]} | {w:.1f} | {r['rows_in'][st] / w:.0f} | "
                         f"{r['worker_peak_mb'].get(st, 0):.0f} | {r['ray_total_peak_mb'].get(st, 0):.0f} |")
    lines += ["", "| rows | shards | kept after dedup | trusted | total wall s | driver peak MB |",
              "|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['rows']} | {r['shards']} | {r['kept_after_dedup']} | {r['trusted']} | "
                     f"{sum(r['walls'].values()):.1f} | {r['driver_peak_mb']:.0f} |")
    if len(results) >= 2:
        base, big = results[0], results[-1]
        size = big["rows"] / base["rows"]
        lines += ["", f"Ratios {big['rows']} / {base['rows']} rows (input x{size:.0f}; time should grow ~x{size:.0f}, "
                      "memory should not):", ""]
        for st in STAGE_ORDER:
            mem = [big[k].get(st, 0) / max(base[k].get(st, 0), 1e-9) for k in ("worker_peak_mb", "ray_total_peak_mb")]
            lines.append(f"- {st}: wall x{big['walls'][st] / base['walls'][st]:.2f}, largest worker x{mem[0]:.2f}, "
                         f"all Ray processes x{mem[1]:.2f}")
        lines.append(f"- driver peak: x{big['driver_peak_mb'] / base['driver_peak_mb']:.2f}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="10000,100000", help="comma-separated sizes; the first is the baseline")
    ap.add_argument("--shard-size", type=int, default=1000)
    ap.add_argument("--solutions", type=int, default=1, help="solutions per problem (the first correct)")
    ap.add_argument("--tests", type=int, default=1, help="I/O tests per problem (at most 4)")
    ap.add_argument("--verify-coverage", action="store_true", help="include coverage re-runs in verification")
    ap.add_argument("--write", help="also write the report (markdown) to this file")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)   # internal: run one size in this process
    args = ap.parse_args()
    # drop_constant off: with the default single test, a constant function passes every suite and nothing would
    # be trusted; the benchmark wants the trusted path (selection, pair building) measured.
    overrides = [f"verify.coverage={str(args.verify_coverage).lower()}", "verify.drop_constant=false",
                 "wandb.enabled=false"]
    if args.one:
        print(json.dumps(run_one(args.one, args.shard_size, overrides, args.solutions, args.tests)))
        return 0
    results = []
    for n in [int(x) for x in args.rows.split(",")]:
        cmd = [sys.executable, __file__, "--one", str(n), "--shard-size", str(args.shard_size),
               "--solutions", str(args.solutions), "--tests", str(args.tests)]
        cmd += ["--verify-coverage"] if args.verify_coverage else []
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-4000:], file=sys.stderr)
            return out.returncode
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{n} rows: {sum(results[-1]['walls'].values()):.1f} s", file=sys.stderr)
    text = (f"# Scale benchmark (`python benchmarks/scale.py --rows {args.rows} --shard-size {args.shard_size} "
            f"--solutions {args.solutions} --tests {args.tests}`)\n\n" + report(results) + "\n")
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
