"""What a person sees while `factory generate` runs: per-stage, per-shard progress, quiet Ray, one-line failures,
and W&B records logged as shards complete (read back with wandb's own reader)."""

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from factory import schema
from factory.config import STAGES, load_config
from factory.executors import ShardFailed
from factory.executors.local import LocalExecutor
from factory.executors.shards import read_stats, write_shard
from factory.report.console import Console
from factory.stages.base import Dropped, Stage


class Halve(Stage):
    """Keeps rows with an even seed id, drops the others with a reason; `fail_on` makes one shard raise."""

    name = "problems"
    schema = schema.SEEDS
    requires = ("seed_id",)

    def __init__(self, fail_on=None):
        self.fail_on = fail_on

    def process(self, rows):
        for r in rows:
            if r["seed_id"] == self.fail_on:
                raise KeyError("no such field: style")
            yield r if int(r["seed_id"][1:]) % 2 == 0 else Dropped(r["seed_id"], "odd")


def _seed_shards(run: Path, shards: int = 3) -> list[str]:
    class Seeds(Stage):
        name, schema = "seeds", schema.SEEDS

    names = [f"shard-{i:05d}" for i in range(shards)]
    for i, name in enumerate(names):
        rows = [{"seed_id": f"s{4 * i + j}", "origin": "x.py", "seed": "x = 1"} for j in range(4)]
        write_shard(Seeds(), run / "seeds", name, rows, [], 0, 0.0)
    return names


def test_plain_line_per_shard_and_records_in_completion_order(tmp_path):
    shards = _seed_shards(tmp_path)
    out, seen = io.StringIO(), []
    console = Console(stream=out, interactive=False, on_shard=seen.append)
    stats = LocalExecutor().run_chain([(Halve(), tmp_path / "seeds", tmp_path / "problems")], shards, console)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[problems] started: 3 shards"
    assert lines[1].startswith("[problems] shard-00000 1/3: 4 in, 2 out, dropped odd=2")
    assert "eta" in lines[1] and lines[3].startswith("[problems] shard-00002 3/3") and lines[3].endswith("done")
    assert "rows 12 -> 6  dropped odd=6" in lines[3]
    # The W&B hook got the very records the shards wrote to disk (what `factory stats` reads), in order.
    assert seen == stats
    assert [{k: v for k, v in s.items() if k != "seconds"} for s in seen] == \
        [{k: v for k, v in s.items() if k != "seconds"} for s in read_stats(tmp_path / "problems")]


def test_terminal_gets_bars_not_lines(tmp_path):
    shards = _seed_shards(tmp_path, 2)
    out = io.StringIO()
    console = Console(stream=out, interactive=True)
    LocalExecutor().run_chain([(Halve(), tmp_path / "seeds", tmp_path / "problems")], shards, console)
    console.close()
    text = out.getvalue()
    assert "problems: 100%" in text and "2/2" in text
    assert "[problems] shard-00000" not in text          # no plain per-shard line on a terminal
    assert "dropped odd=4" in text


def test_a_failing_shard_is_one_line_with_its_log(tmp_path):
    shards = _seed_shards(tmp_path, 2)
    with pytest.raises(ShardFailed) as failed:
        LocalExecutor().run_chain([(Halve(fail_on="s5"), tmp_path / "seeds", tmp_path / "problems")], shards)
    message = str(failed.value)
    assert message.startswith("stage problems, shard-00001 failed: KeyError: 'no such field: style'")
    log = Path(message.rsplit("full log: ", 1)[1].rstrip(")"))
    assert "\n" not in message and log.exists() and "Traceback" in log.read_text()


def test_llm_stages_get_a_fixed_pool_others_autoscale():
    from factory.executors.ray_data import actor_pool
    from factory.pipeline import build_stage

    cfg = load_config(["model=tiny", "llm.concurrency=3"])
    fixed = actor_pool(build_stage(cfg, "solutions", Path("/tmp")), max_actors=8)
    assert fixed.min_size == fixed.max_size == 3
    grows = actor_pool(build_stage(cfg, "executions", Path("/tmp")), max_actors=8)
    assert (grows.min_size, grows.max_size) == (1, 8)


def _history(run_dir: Path) -> list[dict]:
    """History rows of the run's offline W&B log, read with wandb's own reader (`wandb leet inspect`)."""
    [offline] = list((run_dir / "wandb").glob("offline-run-*"))
    out = subprocess.run(["wandb", "leet", "inspect", "--json", str(offline)], capture_output=True, text=True,
                         timeout=120, check=True)
    return [r["history"]["item"] for r in map(json.loads, out.stdout.splitlines()) if r["type"] == "history"]


@pytest.mark.slow
def test_generate_console_wandb_live_and_failure(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    # ray.init() in an earlier test of this process sets RAY_AUTH_MODE=token in os.environ; a user's shell has
    # none, and with it set the run (rightly) says nothing about token auth.
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "factory.cli", "generate", "model=tiny", "num_problems=8", f"run_dir={run_dir}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)   # pipes: a non-interactive stdout
    assert done.returncode == 0, done.stderr[-3000:]
    out, everything = done.stdout, done.stdout + done.stderr
    for stage in STAGES:
        assert f"[{stage}] started: 1 shard" in out and f"[{stage}] shard-00000 1/1: " in out, stage
    for noise in ("Execution plan", "Starting execution", "deprecated", "core_worker.cc", "Progress bars",
                  "Token authentication is enabled", "logging_progress"):
        assert noise not in everything, noise
    assert everything.count("token authentication on") == 1
    assert re.search(r"^stage +shards +in +out", out, re.M) and f"next: factory stats {run_dir}" in out

    # One W&B history row per (stage, shard), steps 0, 1, 2, ..., each logged before the run ended (before
    # summary.json, written after the last stage), with the figures `factory stats` reads from disk.
    rows = [r for r in _history(run_dir) if any(k.endswith("/rows_in") for k in r)]
    assert [r["_step"] for r in rows] == list(range(len(STAGES)))
    ended = (run_dir / "summary.json").stat().st_mtime
    assert all(r["_timestamp"] < ended for r in rows)
    assert [r["_timestamp"] for r in rows] == sorted(r["_timestamp"] for r in rows)
    for stage, row in zip(STAGES, rows):
        [disk] = read_stats(run_dir / stage)
        assert (row[f"{stage}/rows_in"], row[f"{stage}/rows_out"]) == (disk["rows_in"], disk["rows_out"]), stage

    # A failure in a worker: one line naming the stage, the shard and the cause, and the full log's path.
    (run_dir / "problems" / "shard-00000.parquet").write_text("not parquet")
    failed = subprocess.run(cmd + ["from_stage=signatures"], capture_output=True, text=True, timeout=900)
    assert failed.returncode == 1
    [line] = [x for x in failed.stderr.splitlines() if "error:" in x]
    assert line.startswith("factory generate: error: stage signatures, shard-00000 failed: ArrowInvalid")
    assert "Traceback" not in failed.stderr
    assert Path(line.rsplit("full log: ", 1)[1].rstrip(")")).exists()
