"""Benchmark: the verification stage over synthetic precomputed executions, local Ray vs one process.

    python benchmarks/verify.py                 # 100k problems (the issue's figure)
    python benchmarks/verify.py --rows 5000     # a quick run

Rows are EXECUTIONS rows made directly (N solutions x T tests with K samples each, verdicts drawn so that
about half the problems reach agreement), written as Parquet shards once. Coverage selection is off: it
re-runs code in the sandbox and is measured by benchmarks/sandbox.py; this measures the vote/rule/selection/
pair-counting path that every problem goes through. Each mode runs in a child process while this process
samples the summed RSS of the child's whole process tree (Ray's raylet and workers included) for the peak.
Prints rows/s and peak memory per mode and their ratio; writes the output to docs/perf/verify.md.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ["wrong_answer", "runtime_error", "timeout"]


def synth_row(i: int, rng: random.Random, n_sol: int = 4, n_tests: int = 6, k: int = 4) -> dict:
    pid = f"p{i:06d}"
    expected = [repr(rng.randint(-50, 50)) if rng.random() > 0.05 else None for _ in range(n_tests)]
    samples = [[e if (e and rng.random() < 0.7) else repr(rng.randint(-50, 50)) for _ in range(k)] for e in expected]
    good = rng.random() < 0.5   # about half the problems have a solution passing everything
    sols, verdicts, rates = [], [], []
    for j in range(n_sol):
        sid = f"{pid}/s{j}"
        sols.append({"solution_id": sid, "code": f"def f(x):\n    return x + {j}\n", "reply": f"```python\nreturn x + {j}\n```"})
        passed = 0
        for t, e in enumerate(expected):
            if e is None:
                continue
            ok = (good and j == 0) or rng.random() < 0.6
            passed += ok
            status = "pass" if ok else rng.choice(STATUSES)
            verdicts.append({"solution_id": sid, "test_index": t, "status": status,
                             "detail": "" if ok else "ValueError: bad" if status == "runtime_error" else "",
                             "output": e if ok else "0", "cpu_ms": 1.0})
        rates.append(passed / max(1, sum(e is not None for e in expected)))
    return {"seed_id": pid, "origin": "synthetic", "seed": "", "problem_id": pid, "style": "mbpp",
            "problem": f"Add something to x ({i}).", "signature": "def f(x):\n    ...", "entry_point": "f",
            "params": ["x"], "solutions": sols, "test_inputs": [f"[{t}]" for t in range(n_tests)],
            "input_kinds": ["general"] * n_tests, "output_samples": samples,
            "output_reasoning": [[f"Think.\nOutput: {s}" for s in outs] for outs in samples],
            "expected": expected, "vote_share": [0.75 if e else 0.0 for e in expected],
            "verdicts": verdicts, "pass_rates": rates}


def make_data(folder: Path, rows: int, shard_size: int) -> None:
    from factory.executors.shards import shard_name, write_shard
    from factory.schema import EXECUTIONS
    from factory.stages.base import Stage

    class Executions(Stage):
        name, schema = "executions", EXECUTIONS

    rng = random.Random(0)
    for s, start in enumerate(range(0, rows, shard_size)):
        batch = [synth_row(i, rng) for i in range(start, min(rows, start + shard_size))]
        write_shard(Executions(), folder, shard_name(s), batch, [], len(batch), 0.0)


def run_mode(mode: str, data: Path, out: Path) -> None:
    """Child process: verification over every shard with the given executor."""
    from factory.config import load_config
    from factory.executors.local import LocalExecutor
    from factory.executors.ray_data import RayExecutor
    from factory.executors.shards import shard_names
    from factory.stages.verification import Verification

    cfg = load_config(["verify.coverage=false"])
    stage = Verification(verify=cfg.verify, sandbox=cfg.sandbox)
    executor = LocalExecutor() if mode == "local" else RayExecutor(cfg.cluster)
    start = time.perf_counter()
    stats = executor.run_chain([(stage, data, out)], shard_names(data))
    seconds = time.perf_counter() - start
    agreement = sum(s["metrics"]["trusted"] for s in stats) / max(1, sum(s["metrics"]["problems"] for s in stats))
    print(json.dumps({"seconds": seconds, "rows": sum(s["rows_out"] for s in stats), "agreement": agreement}))


def tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def measure(mode: str, data: Path, out: Path) -> dict:
    child = subprocess.Popen([sys.executable, __file__, "--child", mode, str(data), str(out)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    peak, done = 0, threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(child.pid))
            time.sleep(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    stdout, _ = child.communicate()
    done.set()
    t.join()
    if child.returncode:
        raise RuntimeError(f"{mode} run failed with exit code {child.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "rows_per_s": result["rows"] / result["seconds"], "peak_rss_mb": peak / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--shard-size", type=int, default=2000)
    ap.add_argument("--child", nargs=3, metavar=("MODE", "DATA", "OUT"))
    ap.add_argument("--no-write", action="store_true", help="do not update docs/perf/verify.md")
    a = ap.parse_args()
    if a.child:
        return run_mode(a.child[0], Path(a.child[1]), Path(a.child[2]))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "executions"
        t0 = time.perf_counter()
        make_data(data, a.rows, a.shard_size)
        gen = time.perf_counter() - t0
        results = {mode: measure(mode, data, Path(tmp) / f"verification-{mode}") for mode in ("local", "ray")}
    lines = [f"# verification benchmark ({a.rows} synthetic problems, shards of {a.shard_size}, coverage off)", "",
             f"synthetic executions written in {gen:.1f} s", "",
             "| mode | seconds | rows/s | peak RSS (MB, process tree) | agreement |", "|---|---|---|---|---|"]
    for mode, r in results.items():
        lines.append(f"| {mode} | {r['seconds']:.1f} | {r['rows_per_s']:.0f} | {r['peak_rss_mb']:.0f} | {r['agreement']:.3f} |")
    ratio = results["ray"]["rows_per_s"] / results["local"]["rows_per_s"]
    lines += ["", f"ray / single-process throughput: {ratio:.2f}x "
              f"(ray.init excluded; {__import__('os').cpu_count()} CPUs)"]
    text = "\n".join(lines) + "\n"
    print(text)
    if not a.no_write:
        (ROOT / "docs" / "perf").mkdir(parents=True, exist_ok=True)
        (ROOT / "docs" / "perf" / "verify.md").write_text(text)


if __name__ == "__main__":
    main()
