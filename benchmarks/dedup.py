"""Benchmark of the dedup plan: synthetic problems with injected duplicates, on local Ray and in one process.

    python benchmarks/dedup.py                  # 100k rows, 10% injected duplicates
    python benchmarks/dedup.py --rows 20000     # a quick run
    python benchmarks/dedup.py --record         # also write docs/perf/dedup.md

Three ways over the same shards, each in a fresh process so its peak memory is its own:
  ray         plan_dedup(use_ray=True): keys per shard, groupby(key).map_groups on local Ray, union-find.
  local       plan_dedup(use_ray=False): the same functions in this process (the in-process executor's path).
  datasketch  MinHashLSH (datasketch's own MinHash, threshold and band choice) in one process: the textbook baseline.
Truth: every injected copy belongs to its source's cluster. A drop is correct when the dropped row and its kept row
share a truth cluster; precision = correct drops / drops, recall = correct drops / injected copies. Injected copies
with a true shingle Jaccard below the threshold are hard by design: recall on the rest is printed too.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory.config import load_config
from factory.schema import SIGNATURES
from factory.stages import minhash
from factory.stages.dedup import plan_dedup, read_plan

VERBS = "return compute find count sort merge filter group split rotate reverse encode decode sum rank".split()
NOUNS = ("integers strings words intervals points edges nodes matrices tokens dates prices scores votes files "
         "paths users orders trees graphs queues stacks coins tiles cells rows columns digits letters vowels "
         "primes pairs triples windows segments ranges keys values records events tasks jobs").split()
ADJS = ("longest shortest largest smallest distinct sorted unique first last even odd positive negative "
        "balanced valid missing repeated adjacent consecutive maximal minimal total average median").split()
OPENERS = ["Write a function that", "Implement a routine which", "Given input data, create code that",
           "Your task: build a function that", "Design an algorithm that", "Create a helper which"]
CLAUSES = [
    "takes a list of {n1} and should {v1} the {a1} {n2}",
    "reads {k} {n1} from a {n3} and must {v1} every {a1} one",
    "uses a dictionary of {n2} keyed by {n3} to {v1} the {a2} {n1}",
    "treats {a1} {n1} as invalid and ignores any {a2} {n2}",
    "handles up to {k} {n1} per {n3} in linear time",
    "returns {k} when no {a1} {n2} exists among the {n1}",
    "breaks ties between {a2} {n3} by their {a1} {n1}",
]
EXAMPLE = "For example, for {xs} the answer is {y}."


def _description(rng: random.Random) -> str:
    def fill(t: str) -> str:
        return t.format(n1=rng.choice(NOUNS), n2=rng.choice(NOUNS), n3=rng.choice(NOUNS), v1=rng.choice(VERBS),
                        a1=rng.choice(ADJS), a2=rng.choice(ADJS), k=rng.randint(2, 999))
    clauses = [fill(c) for c in rng.sample(CLAUSES, rng.randint(2, 4))]
    xs = [rng.randint(0, 99) for _ in range(rng.randint(3, 6))]
    return f"{rng.choice(OPENERS)} {', then '.join(clauses)}. " + EXAMPLE.format(xs=xs, y=rng.randint(0, 999))


def _near_copy(text: str, rng: random.Random) -> str:
    """1-3 edits: swap two adjacent words, delete a word, or replace one with a vocabulary word."""
    words = text.split()
    for _ in range(rng.randint(1, 3)):
        i, op = rng.randrange(len(words) - 1), rng.random()
        if op < 0.4:
            words[i], words[i + 1] = words[i + 1], words[i]
        elif op < 0.7:
            del words[i]
        else:
            words[i] = rng.choice(NOUNS + ADJS)
    return " ".join(words)


def _exact_copy(text: str, rng: random.Random) -> str:
    """Same normalised text: case, spacing and punctuation change only."""
    out = text.upper() if rng.random() < 0.5 else text.replace(",", " ;").replace(".", "!")
    return "  " + out.replace(" ", "   ", 1)


def make_rows(n: int, rate: float, seed: int, threshold: float) -> tuple[list[dict], dict[str, int], list[tuple]]:
    """Rows, the truth cluster of each id, and (copy_id, source_id, true shingle Jaccard) of every copy."""
    rng = random.Random(seed)
    n_copies = int(n * rate)
    texts = [_description(rng) for _ in range(n - n_copies)]
    cluster = list(range(len(texts)))
    jaccards = []
    for _ in range(n_copies):
        src = rng.randrange(n - n_copies)
        text = _near_copy(texts[src], rng) if rng.random() < 0.8 else _exact_copy(texts[src], rng)
        a, b = set(minhash.shingles(texts[src], 3)), set(minhash.shingles(text, 3))
        jaccards.append(len(a & b) / len(a | b))
        texts.append(text)
        cluster.append(src)
    order = list(range(n))
    rng.shuffle(order)  # ids in random order: the kept row of a cluster is as often a copy as the source
    ids = [f"p{order[i]:07d}" for i in range(n)]
    rows = [{"seed_id": "bench", "origin": "synthetic", "seed": "", "problem_id": ids[i], "style": "mbpp",
             "problem": texts[i], "signature": "", "entry_point": "f", "params": []} for i in range(n)]
    copies = [(ids[n - n_copies + k], ids[cluster[n - n_copies + k]], j) for k, j in enumerate(jaccards)]
    return rows, dict(zip(ids, cluster)), copies


def write_shards(rows: list[dict], folder: Path, shard_rows: int) -> list[str]:
    paths = []
    for i in range(0, len(rows), shard_rows):
        path = folder / f"shard-{i // shard_rows:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[i : i + shard_rows], schema=SIGNATURES), path)
        paths.append(str(path))
    return paths


class _RayProcesses(threading.Thread):
    """Peak summed USS and total CPU time of this process's Ray workers (its descendants named ray::*).

    USS, so shared object-store pages are not counted once per worker; descendants only, so other Ray
    clusters on the machine are not counted.
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_mb, self.cpu, self.stop = 0.0, {}, threading.Event()

    def run(self):
        import psutil

        me = psutil.Process()
        while not self.stop.wait(0.5):
            total = 0
            for proc in me.children(recursive=True):
                try:
                    if proc.name().startswith("ray::"):
                        total += proc.memory_full_info().uss
                        times = proc.cpu_times()
                        self.cpu[proc.pid] = times.user + times.system
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)


def _datasketch_plan(files: list[str], cfg) -> dict:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    sigs, a, b, kinds = {}, [], [], []
    base = MinHash(num_perm=cfg.num_perm, seed=1)
    for path in files:
        cols = pq.read_table(path, columns=["problem_id", "problem"]).to_pydict()
        for pid, text in zip(cols["problem_id"], cols["problem"]):
            m = MinHash(num_perm=cfg.num_perm, seed=1, permutations=base.permutations, scheme=base.scheme)
            m.update_batch([s.encode() for s in minhash.shingles(text, cfg.shingle)])
            for other in lsh.query(m):  # candidates, confirmed by the estimated Jaccard like ours
                if m.jaccard(sigs[other]) >= cfg.threshold:
                    a.append(pid), b.append(other), kinds.append("near")
            lsh.insert(pid, m)
            sigs[pid] = m
    return minhash.resolve(a, b, kinds)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_variant(name: str, files: list[str], overrides: list[str], out: Path, queue) -> None:
    cfg = load_config(overrides).dedup
    monitor, init_s = None, 0.0
    if name == "ray":
        import ray

        t = time.perf_counter()
        ray.init(num_cpus=2, log_to_driver=False)
        init_s = time.perf_counter() - t
        monitor = _RayProcesses()
        monitor.start()
        time.sleep(2)  # the monitor's first samples: worker CPU spent starting up is not the plan's
    workers_cpu0, cpu0 = sum(monitor.cpu.values()) if monitor else 0.0, _cpu_s()
    start = time.perf_counter()
    if name == "datasketch":
        plan = _datasketch_plan(files, cfg)
    else:
        plan_dedup(files, str(out), cfg, use_ray=name == "ray")
        plan = read_plan(out)
    seconds = time.perf_counter() - start
    cpu = _cpu_s() - cpu0
    if monitor:
        time.sleep(1)
        monitor.stop.set()
        monitor.join()
        cpu += sum(monitor.cpu.values()) - workers_cpu0
    queue.put({"name": name, "seconds": seconds, "init_s": init_s, "plan": plan, "cpu_s": cpu,
               "driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "workers_mb": monitor.peak_mb if monitor else 0.0})


def _wait(proc, queue, name: str) -> dict:
    """The variant's result; a child that died (its traceback is on stderr) fails the run instead of hanging it."""
    import queue as q

    while True:
        try:
            result = queue.get(timeout=2)
            proc.join()
            return result
        except q.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"variant {name!r} exited with code {proc.exitcode} and no result")


def score(plan: dict, truth: dict[str, int], copies: list[tuple], threshold: float) -> tuple[float, float, float]:
    """Precision of the drops; recall over all copies and over copies whose true Jaccard reaches the threshold."""
    correct = sum(truth[d] == truth.get(kept, -1) for d, (_, kept) in plan.items())
    kept_of = {pid: plan[pid][1] if pid in plan else pid for pair in copies for pid in pair[:2]}
    found = [kept_of[c] == kept_of[s] for c, s, _ in copies]
    findable = [f for f, (_, _, j) in zip(found, copies) if j >= threshold]
    return correct / max(1, len(plan)), sum(found) / max(1, len(found)), sum(findable) / max(1, len(findable))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=0.10, help="share of rows that are injected copies")
    ap.add_argument("--shard-rows", type=int, default=2000)
    ap.add_argument("--variants", default="ray,local,datasketch")
    ap.add_argument("--repeat", type=int, default=1, help="runs per variant; plan seconds are the median")
    ap.add_argument("--record", action="store_true", help="write the report to docs/perf/dedup.md")
    ap.add_argument("overrides", nargs="*", help="config overrides, e.g. dedup.bands=16")
    args = ap.parse_args()
    overrides = list(args.overrides) + ["dedup.decontaminate=[]"]  # synthetic rows: contamination is not measured

    threshold = load_config(overrides).dedup.threshold
    t = time.perf_counter()
    rows, truth, copies = make_rows(args.rows, args.rate, seed=0, threshold=threshold)
    near_j = [j for _, _, j in copies if j < 1.0]
    lines = ["# Dedup plan benchmark\n",
             f"`python benchmarks/dedup.py --rows {args.rows} --repeat {args.repeat} "
             f"{' '.join(args.overrides)}`".rstrip() + "\n",
             f"- {args.rows} rows, {len(copies)} injected copies (80% near: 1-3 word edits, 20% exact up to case "
             f"and punctuation), shards of {args.shard_rows} rows; generated in {time.perf_counter() - t:.1f} s",
             f"- true shingle Jaccard of edited copies to their source: median {statistics.median(near_j):.2f}; "
             f"{sum(j < threshold for _, _, j in copies)} of {len(copies)} copies are below the threshold "
             f"(recall >= thr counts only the others)",
             f"- config: {dict(load_config(overrides).dedup)}; load average at start {os.getloadavg()[0]:.1f}", ""]
    lines += ["| variant | plan s (median) | rows/s | vs local | CPU s | driver peak RSS MB | Ray workers peak USS MB "
              "| drops | precision | recall | recall >= thr |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    runs: dict[str, list[dict]] = {}
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        files = write_shards(rows, Path(tmp), args.shard_rows)
        del rows
        for _ in range(args.repeat):
            for name in args.variants.split(","):
                queue = ctx.Queue()
                proc = ctx.Process(target=_run_variant, args=(name, files, overrides,
                                                              Path(tmp) / f"{name}.parquet", queue))
                proc.start()
                runs.setdefault(name, []).append(_wait(proc, queue, name))
    med = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    for name, rs in runs.items():
        precision, recall, recall_thr = score(rs[-1]["plan"], truth, copies, threshold)
        ratio = f"{med['local'] / med[name]:.2f}x" if "local" in med else "-"
        lines.append(f"| {name} | {med[name]:.1f} | {args.rows / med[name]:,.0f} | {ratio} | "
                     f"{statistics.median(r['cpu_s'] for r in rs):.1f} | {max(r['driver_mb'] for r in rs):,.0f} | "
                     f"{max(r['workers_mb'] for r in rs):,.0f} | {len(rs[-1]['plan'])} | {precision:.4f} | "
                     f"{recall:.4f} | {recall_thr:.4f} |")
    ray_init = [r["init_s"] for r in runs.get("ray", [])]
    lines += ["", f"Ray start, not in plan s: {statistics.median(ray_init):.1f} s." if ray_init else "",
              f"vs local: speed relative to the in-process plan (>1 is faster). CPU s: user+system of the driver "
              f"plus Ray workers during the plan. Load average at end {os.getloadavg()[0]:.1f} "
              f"(the machine's 2 CPUs were shared with other jobs)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        path = Path(__file__).resolve().parent.parent / "docs" / "perf" / "dedup.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
