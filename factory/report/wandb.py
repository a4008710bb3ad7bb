"""W&B logging of a finished run: per-shard statistics of every stage as tables and charts, run-level summaries.

Offline unless WANDB_API_KEY is set (or `wandb.mode` says otherwise): files land under RUN_DIR/wandb/ and can be
uploaded later with `wandb sync RUN_DIR/wandb/offline-run-*`. Logging never fails a run: any error (no network,
a bad key, a full disk) becomes one warning, because the data on disk is the product and W&B only a view of it.

What is logged (one W&B run per `factory generate`, named after RUN_DIR):
  <stage>/shards            table: one row per shard (rows in/out, drops by reason, seconds, every scalar metric)
  <stage>/seconds_per_shard chart: seconds of each shard (stragglers stand out)
  stages                    table + bar chart: rows in, out and kept share per stage
  executions/pass_rates     histogram of solutions' pass rates; executions/error_types: table + bar chart
  summary                   <stage>/rows_in, rows_out, kept, seconds, agreement, pass_rate_mean
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from factory.report import plots, stats

log = logging.getLogger(__name__)


def _mode(cfg) -> str:
    if cfg.wandb.get("mode"):
        return str(cfg.wandb.mode)
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def log_run(cfg, run_dir: Path, summary: dict) -> None:
    """Log `run_dir`'s statistics to W&B. `summary` is pipeline.summarize's dict (per stage totals)."""
    if not cfg.wandb.get("enabled", True):
        return
    try:
        _log(cfg, Path(run_dir), summary)
    except Exception as err:  # noqa: BLE001 - by contract nothing here may fail the run
        log.warning("W&B logging skipped (the run's outputs are complete and unaffected): %s: %s",
                    type(err).__name__, err)


def _log(cfg, run_dir: Path, summary: dict) -> None:
    import wandb
    from omegaconf import OmegaConf

    records = stats.shard_records(run_dir, progress=False)
    run = wandb.init(project=cfg.wandb.project, name=run_dir.name, dir=str(run_dir), mode=_mode(cfg),
                     config=OmegaConf.to_container(cfg, resolve=True), job_type="generate",
                     settings=wandb.Settings(silent=True, init_timeout=60))
    try:
        for stage, recs in records.items():
            run.log(_stage_log(wandb, stage, recs))
        run.log(_run_log(wandb, records, run_dir))
        run.summary.update(_summary(records, summary))
    finally:
        run.finish()
    log.info("W&B: logged %d stages (%s) under %s", len(records), _mode(cfg), run_dir / "wandb")


def _stage_log(wandb, stage: str, recs: list[dict]) -> dict:
    columns = list(dict.fromkeys(k for r in recs for k in r))
    shards = wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in recs])
    seconds = wandb.Table(columns=["shard", "seconds"], data=[[i, r["seconds"]] for i, r in enumerate(recs)])
    return {f"{stage}/shards": shards,
            f"{stage}/seconds_per_shard": wandb.plot.line(seconds, "shard", "seconds",
                                                          title=f"{stage}: seconds per shard")}


def _run_log(wandb, records: dict[str, list[dict]], run_dir: Path) -> dict:
    rows = []
    for stage, recs in records.items():
        s = stats.stage_summary(recs)
        rows.append([stage, s["rows_in"], s["rows_out"], s["kept"], s["seconds"]])
    stage_table = wandb.Table(columns=["stage", "rows_in", "rows_out", "kept", "seconds"], data=rows)
    out = {"stages": stage_table,
           "stages/rows_out": wandb.plot.bar(stage_table, "stage", "rows_out", title="Rows kept per stage")}
    if "executions" in records:
        rates = plots.pass_rates(run_dir)
        if rates:
            out["executions/pass_rates"] = wandb.Histogram(rates, num_bins=10)
        errors = plots.error_types(run_dir)
        if errors:
            err_table = wandb.Table(columns=["error_type", "verdicts"], data=[[k, v] for k, v in errors.most_common()])
            out["executions/error_types"] = err_table
            out["executions/error_types_chart"] = wandb.plot.bar(err_table, "error_type", "verdicts",
                                                                 title="Error types (non-passing verdicts)")
    return out


def _summary(records: dict[str, list[dict]], summary: dict) -> dict:
    out = {}
    for stage, recs in records.items():
        s = stats.stage_summary(recs)
        for key in ("rows_in", "rows_out", "kept", "seconds", "agreement", "pass_rate_mean"):
            if s.get(key) is not None:
                out[f"{stage}/{key}"] = s[key]
        for reason, n in s["drops"].items():
            out[f"{stage}/dropped/{reason}"] = n
    # Anything the pipeline summarised that the stats files do not hold (e.g. the dedup plan's counts).
    for stage, s in (summary or {}).items():
        for key, value in stats.flatten(s if isinstance(s, dict) else {}).items():
            out.setdefault(f"{stage}/{key}", value)
    return out
