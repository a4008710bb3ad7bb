"""W&B logging of a run: each shard's statistics as it completes, then tables and charts when the run ends.

Offline unless WANDB_API_KEY is set (or `wandb.mode` says otherwise): files land under RUN_DIR/wandb/ and can be
uploaded later with `wandb sync RUN_DIR/wandb/offline-run-*`. Logging never fails a run: any error (no network,
a bad key, a full disk) becomes one warning and logging stops, because the data on disk is the product and W&B
only a view of it.

What is logged (one W&B run per `factory generate`, named after RUN_DIR):
  while the run goes, one history row per finished shard, from the driver, at steps 0, 1, 2, ... in completion
  order (`LiveRun.log_shard`): <stage>/rows_in, rows_out, kept, dropped, dropped/<reason>, seconds, shard (its
  index) and every scalar stage metric (<stage>/metrics.agreement, metrics.statuses.sandbox_error, ...);
  executions/pass_rate is a histogram of that shard's pass rates. The figures are the shard's stats record,
  the same one `factory stats` reads back from disk, so the two agree.
  at the end, in the same run:
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

# Edges of the pass-rate bins executions' shard_metrics counts ("0", "(0,0.25]", ..., "(0.75,1)", "1").
_PASS_BINS = {"0": 0, "(0,0.25]": 1, "(0.25,0.5]": 2, "(0.5,0.75]": 3, "(0.75,1)": 4, "1": 5}
_PASS_EDGES = [0.0, 1e-6, 0.25, 0.5, 0.75, 1 - 1e-6, 1.0]


def _mode(cfg) -> str:
    if cfg.wandb.get("mode"):
        return str(cfg.wandb.mode)
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def log_run(cfg, run_dir: Path, summary: dict) -> None:
    """Log a finished `run_dir`'s statistics to W&B in one go (`summary`: pipeline.summarize's dict)."""
    LiveRun(cfg, run_dir).finish(summary)


class LiveRun:
    """One W&B run for one `factory generate`: `log_shard(stats)` as shards finish, `finish(summary)` at the end.
    The W&B run starts at the first call, so a run with W&B disabled or broken costs nothing."""

    def __init__(self, cfg, run_dir: Path):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.enabled = bool(cfg.wandb.get("enabled", True))
        self.run, self.step = None, 0

    def _guard(self, what: str, fn, *args) -> None:
        if not self.enabled:
            return
        try:
            fn(*args)
        except Exception as err:  # noqa: BLE001 - by contract nothing here may fail the run
            self.enabled = False
            log.warning("W&B logging skipped from %s on (the run's outputs are complete and unaffected): %s: %s",
                        what, type(err).__name__, err)

    def _start(self) -> None:
        if self.run is None:
            import wandb
            from omegaconf import OmegaConf

            self.run = wandb.init(project=self.cfg.wandb.project, name=self.run_dir.name, dir=str(self.run_dir),
                                  mode=_mode(self.cfg), config=OmegaConf.to_container(self.cfg, resolve=True),
                                  job_type="generate", settings=wandb.Settings(silent=True, init_timeout=60))

    def log_shard(self, shard_stats: dict) -> None:
        self._guard("a shard record", self._log_shard, shard_stats)

    def _log_shard(self, shard_stats: dict) -> None:
        import wandb

        self._start()
        # No explicit step: W&B then writes the row at once (a row logged with `step=` waits for the next step),
        # and its own step counts 0, 1, 2, ... in completion order.
        self.run.log(shard_log(wandb, shard_stats))
        self.step += 1

    def finish(self, summary: dict) -> None:
        """Log the end-of-run tables and summary, then close the W&B run."""
        self._guard("the end-of-run tables", self._finish, summary)
        self.close()

    def close(self) -> None:
        """Close the W&B run (the shard records logged so far stay; a failed run ends here)."""
        if self.run is not None:
            try:
                self.run.finish()
            except Exception as err:  # noqa: BLE001
                log.warning("W&B: finishing the run failed: %s: %s", type(err).__name__, err)
            self.run = None

    def _finish(self, summary: dict) -> None:
        import wandb

        self._start()
        records = stats.shard_records(self.run_dir, progress=False)
        # The tables share one step, after the last shard row.
        end = {}
        for stage, recs in records.items():
            end.update(_stage_log(wandb, stage, recs))
        end.update(_run_log(wandb, records, self.run_dir))
        self.run.log(end)
        self.run.summary.update(_summary(records, summary))
        log.info("W&B: logged %d shard records and %d stages (%s) under %s", self.step, len(records),
                 _mode(self.cfg), self.run_dir / "wandb")


def shard_log(wandb, s: dict) -> dict:
    """One shard's stats record (what write_shard returns) as W&B history keys, prefixed by its stage."""
    stage = s["stage"]
    out = {"shard": int(s["shard"].rsplit("-", 1)[-1]), "rows_in": s["rows_in"], "rows_out": s["rows_out"],
           "dropped": sum(s["dropped"].values()), "seconds": s["seconds"]}
    if s["rows_in"]:
        out["kept"] = round(s["rows_out"] / s["rows_in"], 4)
    out.update({f"dropped/{k}": v for k, v in s["dropped"].items()})
    metrics = s.get("metrics") or {}
    out.update(stats.flatten(metrics, "metrics."))
    counts = metrics.get("pass_rate_histogram") if stage == "executions" else None
    if counts:
        bins = [0] * (len(_PASS_EDGES) - 1)
        for label, n in counts.items():
            if label in _PASS_BINS:
                bins[_PASS_BINS[label]] += n
        out["pass_rate"] = wandb.Histogram(np_histogram=(bins, _PASS_EDGES))
    return {f"{stage}/{k}": v for k, v in out.items()}


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
