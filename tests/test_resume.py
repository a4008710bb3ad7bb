"""Resume that notices a changed config: a rerun recomputes the first stage whose config keys changed and every
later one, names the keys in the log, and never mixes shards of two configs in one folder (factory/resume.py)."""

import json
import logging
import shutil
from pathlib import Path

import pytest

from factory import pipeline
from factory.config import STAGES, load_config

ORDER = ("seeds",) + STAGES
BASE = ["model=tiny", "num_problems=4", "shard_size=2", "executor=local", "wandb.enabled=false"]


def _generate(run_dir: Path, *overrides: str) -> None:
    pipeline.generate(load_config([*BASE, f"run_dir={run_dir}", *overrides]))


def _markers(run_dir: Path) -> dict[str, int]:
    """stage/shard -> mtime of its completion marker: rewritten exactly when the shard was recomputed."""
    return {f"{p.parent.parent.name}/{p.name}": p.stat().st_mtime_ns
            for p in (run_dir / "_meta").glob("*/completions/shard-*")}


def _recomputed(before: dict, after: dict) -> set[str]:
    return {key.split("/")[0] for key in before if after.get(key) != before[key]}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("resume") / "run"
    _generate(run_dir)
    return run_dir


@pytest.fixture
def run_dir(finished, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


@pytest.mark.parametrize("override,first,logged", [
    ([], None, None),                                              # the public contract: nothing recomputed
    (["wandb.mode=offline", "cluster.max_actors=7", "sandbox.workers=3"], None, None),   # speed and logging only
    (["verify.rule=relaxed", "verify.tau=0.8"], "verification", "verify.tau: 1.0 -> 0.8"),
    (["verify.soft.low=0.3", "repair.max_feedback_tests=5"], None, None),   # keys of stages that are off
    (["verify.soft.enabled=true"], "soft", "verify.soft.enabled: False -> True"),   # verification kept
    (["generate.num_solutions=2"], "solutions", "generate.num_solutions: 4 -> 2"),
    (["sandbox.timeout=2"], "executions", "sandbox.timeout: 5 -> 2"),
    (["dedup.threshold=0.5"], "dedup", "dedup.threshold: 0.7 -> 0.5"),
    (["generate.problem.temperature=0.5"], "problems", "generate.problem.temperature: 0.8 -> 0.5"),
    (["num_problems=3"], "seeds", "num_problems: 4 -> 3"),
])
def test_a_changed_key_recomputes_its_stage_and_every_later_one(run_dir, caplog, override, first, logged):
    before = _markers(run_dir)
    assert {k.split("/")[0] for k in before} == set(ORDER) and len(before) == 2 * len(ORDER)
    with caplog.at_level(logging.WARNING, logger="factory.pipeline"):
        _generate(run_dir, *override)
    expected = set(ORDER[ORDER.index(first):]) if first else set()
    assert _recomputed(before, _markers(run_dir)) == expected
    warnings = [r.getMessage() for r in caplog.records if "another config" in r.getMessage()]
    if logged:
        assert len(warnings) == 1 and warnings[0].startswith(f"{first} was made under another config")
        assert logged in warnings[0]
    else:
        assert not warnings
    # The saved config and every stage's record now say what the data was made under.
    record = json.loads((run_dir / "_meta" / "verification" / "SUCCESS").read_text())
    assert record["fingerprint"] == json.loads((run_dir / "_meta" / "verification" / "config.json").read_text())[
        "fingerprint"]


def test_a_partly_done_stage_under_another_config_is_wiped_not_mixed(run_dir):
    """A run killed mid-verification (one shard done), resumed under a new verify.tau: the done shard was made
    under the old tau, so it is recomputed too; resumed under the same config, only the missing shard runs."""
    meta = run_dir / "_meta" / "verification"
    (meta / "SUCCESS").unlink()
    (meta / "completions" / "shard-00001").unlink()
    (run_dir / "verification" / "shard-00001.parquet").unlink()
    before = _markers(run_dir)
    _generate(run_dir)                                    # same config: resume, shard-00000 kept
    after = _markers(run_dir)
    assert after["verification/shard-00000"] == before["verification/shard-00000"]
    assert "verification/shard-00001" in after and _recomputed(before, after) == set()

    (meta / "SUCCESS").unlink()
    (meta / "completions" / "shard-00001").unlink()
    _generate(run_dir, "verify.rule=relaxed", "verify.tau=0.8")
    again = _markers(run_dir)
    assert again["verification/shard-00000"] != after["verification/shard-00000"]
    assert json.loads((meta / "config.json").read_text())["config"]["verify.tau"] == 0.8
    assert json.loads((run_dir / "_meta" / "soft" / "config.json").read_text())["input"] == \
        json.loads((meta / "config.json").read_text())["fingerprint"]


def _record(cfg, stage: str) -> dict:
    from factory import resume

    order = ["solutions", "tests", "executions", "verification"]
    return resume.records(cfg, order, dict(zip(order, [None] + order)), lambda s: None)[stage]


@pytest.mark.parametrize("stage,key,old,new", [("tests", "generate.example_inputs", 0, 8),
                                               ("verification", "verify.consensus", "suite", "all"),
                                               ("verification", "verify.examples", "off", "check")])
def test_a_key_added_later_leaves_runs_recorded_before_it_resumable(stage, key, old, new):
    """At the value that does what the code did before the key existed, the key is not in the fingerprint, so a
    run recorded then is reused; any other value recomputes the stage and names the key."""
    from factory import resume

    at_old = _record(load_config([*BASE, f"{key}={old}"]), stage)
    recorded_before = {"fingerprint": resume._hash({"stage": stage, "config": at_old["config"],
                                                    "input": at_old["input"]}), **at_old}
    assert key not in at_old["config"] and recorded_before["fingerprint"] == at_old["fingerprint"]
    at_new = _record(load_config([*BASE, f"{key}={new}"]), stage)
    assert at_new["fingerprint"] != at_old["fingerprint"]
    assert resume.changes(recorded_before, at_new)[0].startswith(f"{key}: None -> ")
