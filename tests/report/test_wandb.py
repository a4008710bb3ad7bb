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
