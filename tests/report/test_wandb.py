"""W&B offline logging: tables and charts land under RUN_DIR with no key or network; errors never fail a run."""

import json
import logging
import time

from factory.config import load_config
from factory.report.wandb import log_run


def test_offline_tables_and_summary_under_run_dir(iterate_run, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)   # offline must follow from the missing key alone
    run = iterate_run / "iter_0"
    log_run(load_config([]), run, {"dedup": {"rows_in": 6}})
    [offline] = list((run / "wandb").glob("offline-run-*"))
    assert list(offline.glob("run-*.wandb"))
    media = offline / "files" / "media" / "table"
    tables = {str(p.relative_to(media)).rsplit("_", 2)[0] for p in media.rglob("*.table.json")}
    assert {"stages", "problems/shards", "executions/shards", "executions/error_types", "verification/shards",
            "verification/seconds_per_shard_table"} <= tables
    shards = json.loads(next((offline / "files" / "media" / "table" / "verification").glob("shards_*")).read_text())
    assert len(shards["data"]) == 2 and "metrics.agreement" in shards["columns"]
    # Offline runs keep the summary only in the run's record log (protobuf: key, then the JSON value).
    # wandb-core may still be flushing it when finish() returns.
    for _ in range(50):
        records = next(offline.glob("run-*.wandb")).read_bytes()
        if b"dedup/rows_in" in records:
            break
        time.sleep(0.2)
    for key, value in (("verification/agreement", b"0.75"), ("problems/dropped/no_problem", b"2"),
                       ("dedup/rows_in", b"6")):
        at = records.find(key.encode())
        assert at > 0 and value in records[at : at + len(key) + 8], key


def test_a_failure_is_a_warning_not_an_error(iterate_run, caplog):
    cfg = load_config(["wandb.mode=nonsense"])
    with caplog.at_level(logging.WARNING):
        log_run(cfg, iterate_run / "iter_1", {})
    assert "W&B logging skipped" in caplog.text
    log_run(load_config(["wandb.enabled=false"]), iterate_run / "iter_1", {})
    assert not list((iterate_run / "iter_1" / "wandb").glob("offline-run-*"))


def _history(run_dir):
    """History rows of the offline run under run_dir, read with wandb's own reader while it may still be open."""
    import subprocess

    offline = list((run_dir / "wandb").glob("offline-run-*"))
    if not offline:
        return []
    out = subprocess.run(["wandb", "leet", "inspect", "--json", str(offline[0])], capture_output=True, text=True,
                         timeout=60)
    return [r["history"]["item"] for r in map(json.loads, out.stdout.splitlines()) if r["type"] == "history"]


def test_shard_records_reach_the_log_while_the_run_is_open(iterate_run, monkeypatch):
    from factory.executors.shards import read_stats
    from factory.report.wandb import LiveRun

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run = iterate_run / "iter_0"
    live = LiveRun(load_config([]), run)
    records = read_stats(run / "problems") + read_stats(run / "executions")
    for r in records[2:]:   # what Executions.shard_metrics counts, in its bins
        r["metrics"]["pass_rate_histogram"] = {"1": 2, "(0.25,0.5]": 2}
    for r in records:
        live.log_shard(r)
    try:
        for _ in range(50):   # wandb-core writes asynchronously: give it a few seconds
            rows = _history(run)
            if len(rows) == len(records):
                break
            time.sleep(0.2)
        assert [r["_step"] for r in rows] == [0, 1, 2, 3]          # on disk before finish()
        assert rows[0]["problems/rows_in"] == 3 and rows[0]["problems/dropped/no_problem"] == 1
        assert rows[2]["executions/metrics.statuses.pass"] == 2
        assert rows[2]["executions/pass_rate.values"] == [0, 0, 2, 0, 0, 2]
    finally:
        live.finish({})
    after = _history(run)
    assert len(after) == 5 and after[-1]["_step"] == 4 and "stages" in {k.split(".")[0] for k in after[-1]}


def test_a_broken_wandb_warns_once_and_the_run_goes_on(iterate_run, caplog):
    from factory.executors.shards import read_stats
    from factory.report.wandb import LiveRun

    live = LiveRun(load_config(["wandb.mode=nonsense"]), iterate_run / "iter_1")
    with caplog.at_level(logging.WARNING):
        for r in read_stats(iterate_run / "iter_1" / "problems"):
            live.log_shard(r)
        live.finish({})
    assert caplog.text.count("W&B logging skipped") == 1
