"""The output layout users load: every stage folder holds data shards only, so it loads with HF datasets'
`data_dir=`, `pyarrow.dataset` and Ray Data's `read_parquet`; bookkeeping lives in RUN_DIR/_meta/<stage>/. A run of
the older layout (bookkeeping inside the stage folders) still reads with `factory stats` and is refused on resume.
(TRL trains on sft/ and dpo/ loaded with `data_dir=`: tests/verify/test_trl.py.)"""

import json
import shutil
from pathlib import Path

import datasets
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from factory import pipeline
from factory.cli import main as factory
from factory.config import STAGES, load_config
from factory.executors.shards import read_rejected, read_stats
from factory.report import stats
from tests.verify.test_cli import user_row, write_jsonl

ORDER = ("seeds",) + STAGES


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A whole generate run (tiny model: every stage folder, most of them empty) and a `factory verify` run with
    real rows in tests, executions, verification, sft and dpo."""
    tmp = tmp_path_factory.mktemp("layout")
    pipeline.generate(load_config(["model=tiny", "num_problems=4", "shard_size=2", "executor=local",
                                   "wandb.enabled=false", f"run_dir={tmp / 'gen'}"]))
    src = write_jsonl(tmp / "in.jsonl", [user_row("HumanEval/63", [None, "two_is_two", "cut_large"]),
                                         user_row("HumanEval/0", [None, "always_true"])])
    assert factory(["verify", str(src), f"run_dir={tmp / 'byo'}", "executor=local"]) == 0
    return tmp / "gen", tmp / "byo"


def _folders(runs):
    gen, byo = runs
    return [gen / s for s in ORDER] + [byo / s for s in ("tests", "executions", "verification", "sft", "dpo")]


def test_stage_folders_hold_only_shards_and_load_with_data_dir_and_pyarrow(runs):
    for folder in _folders(runs):
        assert sorted(p.name for p in folder.iterdir()) == [f"{n}.parquet" for n in sorted(
            p.stem for p in folder.glob("shard-*.parquet"))] and any(folder.iterdir()), folder
        rows = pq.read_table(folder).num_rows
        assert pads.dataset(folder, format="parquet").count_rows() == rows, folder
        if rows:   # `datasets` cannot build a split from zero rows, whatever the layout
            assert datasets.load_dataset("parquet", data_dir=str(folder), split="train").num_rows == rows, folder
    byo = runs[1]
    assert all(pq.read_table(byo / s).num_rows for s in ("sft", "dpo"))   # the real rows were there to load
    assert read_rejected(byo / "verification").num_rows >= 0 and read_stats(byo / "sft")


def test_stage_folders_load_with_ray_data(runs, ray_local):
    for folder in _folders(runs):
        assert ray_local.data.read_parquet(str(folder)).count() == pq.read_table(folder).num_rows, folder


def _to_legacy(run: Path) -> None:
    """Rewrite a run into the layout before RUN_DIR/_meta/: bookkeeping inside each stage folder."""
    for meta in (run / "_meta").iterdir():
        stage = meta.name
        for new, old in (("stats", "_stats"), ("rejected", "_rejected"), ("completions", "_completions")):
            shutil.move(meta / new, run / stage / old)
        (run / stage / "_SUCCESS").write_text((meta / "SUCCESS").read_text())
    shutil.rmtree(run / "_meta")


def test_an_older_layout_still_reads_and_is_refused_on_resume(runs, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(runs[1], old)
    new_records = stats.shard_records(runs[1], progress=False)
    _to_legacy(old)
    assert stats.shard_records(old, progress=False) == new_records
    assert read_rejected(old / "verification").num_rows == read_rejected(runs[1] / "verification").num_rows
    assert stats.main(load_config([]), [str(old), "--no-plots"]) == 0
    config = (old / "config.yaml").read_text()
    assert factory(["generate", "model=tiny", "executor=local", "wandb.enabled=false", f"run_dir={old}"]) == 2
    err = capsys.readouterr().err
    assert "older output layout" in err and "tests" in err and "use a new run_dir" in err
    assert (old / "config.yaml").read_text() == config and not (old / "_meta").exists()   # nothing touched
    assert json.loads((old / "sft" / "_SUCCESS").read_text())["shards"] == 1
