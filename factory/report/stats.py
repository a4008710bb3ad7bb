"""`factory stats RUN_DIR [--coverage] [--no-plots] [--max-shards N]`: per-stage and per-shard figures of a run.

Reads only what the executors wrote: RUN_DIR/_meta/<stage>/stats/shard-*.json (rows in/out, drops by reason,
seconds, stage metrics; RUN_DIR/<stage>/_stats/ in runs of the older layout) and, for the executions stage, the
`pass_rates` column. An iterate run (RUN_DIR/iter_<i>/ each a
generate run) is reported iteration by iteration. Outputs: the tables on stdout, RUN_DIR/report/shards.csv (every
shard, every flattened metric), PNG plots in RUN_DIR/report/ (plots.py) and, with --coverage, the problem
coverage plot (coverage.py; benchmark from `benchmark=`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tqdm import tqdm

from factory.config import STAGES
from factory.executors.shards import stats_files

ALL_STAGES = ("seeds",) + STAGES


class StatsError(ValueError):
    """The run folder is missing or a stats file is unreadable; the message names the path."""


def find_runs(run_dir: Path) -> list[tuple[str, Path]]:
    """(label, folder) of every generate run under `run_dir`: itself if it holds stages, then iter_<i> in order."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    runs = [("run", run_dir)] if any(stats_files(run_dir / s) for s in ALL_STAGES) else []
    iters = [p for p in run_dir.glob("iter_*") if p.is_dir() and p.name[5:].isdigit()]
    runs += [(p.name, p) for p in sorted(iters, key=lambda p: int(p.name[5:]))]
    if not runs:
        raise FileNotFoundError(f"no stage statistics under {run_dir} (expected _meta/<stage>/stats/shard-*.json "
                                f"or iter_<i>/_meta/<stage>/stats/): is it a run folder?")
    return runs


def read_stage(stage_dir: Path) -> list[dict]:
    """The per-shard stats of one stage, sorted by shard. A corrupt file is an error naming it."""
    out = []
    for path in stats_files(stage_dir):
        try:
            s = json.loads(path.read_text())
            s["rows_in"], s["rows_out"], s["seconds"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise StatsError(f"{path}: not a shard stats file ({type(err).__name__}: {err})") from err
        out.append(s)
    return out


def _pass_rates(stage_dir: Path, shard: str) -> list[float]:
    import pyarrow.parquet as pq

    path = Path(stage_dir) / f"{shard}.parquet"
    if not path.exists():
        return []
    return [x for xs in pq.read_table(path, columns=["pass_rates"]).column(0).to_pylist() for x in (xs or [])]


def flatten(metrics: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}: one column per figure, for CSV and W&B tables."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = value
    return out


def shard_records(run: Path, progress: bool = True) -> dict[str, list[dict]]:
    """stage -> one flat record per shard: rows, drops, seconds, every scalar metric and, for executions, the
    mean pass rate of its solutions read from the data (so the figure does not depend on a metric's name)."""
    records: dict[str, list[dict]] = {}
    stages = [s for s in ALL_STAGES if stats_files(run / s)]
    for stage in tqdm(stages, desc=f"reading {run.name}", unit="stage", leave=False, disable=not progress):
        rows = []
        for s in read_stage(run / stage):
            rec = {"stage": stage, "shard": s["shard"], "rows_in": s["rows_in"], "rows_out": s["rows_out"],
                   "dropped": sum(s["dropped"].values()), "seconds": s["seconds"]}
            rec.update({f"dropped.{k}": v for k, v in s["dropped"].items()})
            rec.update(flatten(s.get("metrics") or {}, "metrics."))
            if stage == "executions":
                rates = _pass_rates(run / stage, s["shard"])
                rec["pass_rate_mean"] = round(sum(rates) / len(rates), 4) if rates else None
                rec["solutions_all_pass"] = sum(r == 1.0 for r in rates)
            rows.append(rec)
        records[stage] = rows
    return records


def stage_summary(records: list[dict]) -> dict:
    """Totals of one stage over its shards; ratios (agreement, pass rate) are weighted by rows, not averaged."""
    s = {k: sum(r[k] for r in records) for k in ("rows_in", "rows_out", "dropped")}
    s["shards"] = len(records)
    s["seconds"] = round(sum(r["seconds"] for r in records), 2)
    s["kept"] = round(s["rows_out"] / s["rows_in"], 4) if s["rows_in"] else None
    s["drops"] = {}
    for r in records:
        for k, v in r.items():
            if k.startswith("dropped."):
                s["drops"][k[8:]] = s["drops"].get(k[8:], 0) + v
    trusted = sum(r.get("metrics.trusted", 0) for r in records)
    problems = sum(r.get("metrics.problems", 0) for r in records)
    if records and "metrics.agreement" in records[0]:
        s["agreement"] = round(trusted / problems, 4) if problems else 0.0
    if records and "metrics.infra_errors" in records[0]:
        # Verdicts the sandbox could not give (factory/sandbox/verdicts.py): a sick cluster shows here first.
        s["infra_errors"] = sum(r.get("metrics.infra_errors", 0) for r in records)
    if any("metrics.tokens" in r for r in records):   # LLM stages: generated tokens (the capacity plan's input)
        s["tokens"] = sum(r.get("metrics.tokens", 0) for r in records)
    rated = [r for r in records if r.get("pass_rate_mean") is not None]
    if rated:
        weight = sum(r["rows_out"] for r in rated) or 1
        s["pass_rate_mean"] = round(sum(r["pass_rate_mean"] * r["rows_out"] for r in rated) / weight, 4)
    return s


def table(header: list[str], rows: list[list]) -> str:
    """A plain fixed-width table (no dependency, survives log files and `less`)."""
    cells = [[_cell(v) for v in row] for row in [header] + rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def stage_table(records: dict[str, list[dict]]) -> str:
    rows = []
    for stage, recs in records.items():
        s = stage_summary(recs)
        top = ", ".join(f"{k}={v}" for k, v in sorted(s["drops"].items(), key=lambda kv: -kv[1])[:3]) or "-"
        rate = s["rows_in"] / s["seconds"] if s["seconds"] else None
        rows.append([stage, s["shards"], s["rows_in"], s["rows_out"], s["kept"], s["seconds"], rate,
                     s.get("tokens"), s.get("agreement"), s.get("pass_rate_mean"), s.get("infra_errors"), top])
    return table(["stage", "shards", "in", "out", "kept", "seconds", "rows/s", "tokens", "agreement", "pass_rate",
                  "infra", "dropped (top)"], rows)


def _total(recs: list[dict], key: str) -> int:
    return sum(r.get(key, 0) for r in recs)


def source_table(records: dict[str, list[dict]]) -> str | None:
    """Where the training rows came from: problems, sft and dpo rows per `source` (verified by the rule, brought
    back by soft verification, repaired), then what the soft and repair stages did. None for runs without it."""
    sft, dpo = records.get("sft", []), records.get("dpo", [])
    prefix = "metrics.rows_per_source."
    sources = sorted({k[len(prefix):] for r in sft + dpo for k in r if k.startswith(prefix)})
    if not sources:
        return None
    rows = [[src, _total(sft, f"metrics.problems_per_source.{src}"), _total(sft, prefix + src),
             _total(dpo, prefix + src)] for src in sources]
    text = table(["source", "problems", "sft rows", "dpo rows"], rows)
    soft, fixed = records.get("soft", []), records.get("repair_executions", [])
    text += (f"\nsoft: {_total(soft, 'metrics.soft_judged')} problems judged, "
             f"{_total(soft, 'metrics.soft_trusted')} trusted on {_total(soft, 'metrics.soft_chosen')} solutions"
             f"\nrepair: {_total(fixed, 'metrics.attempts')} attempts run, {_total(fixed, 'metrics.passed')} passed, "
             f"{_total(fixed, 'metrics.problems_repaired')} problems with a repaired solution")
    return text


def shard_table(recs: list[dict], max_shards: int) -> str:
    # Scalar metrics only (histograms and error types are in shards.csv and W&B): a terminal is narrow.
    extra = sorted({k for r in recs for k in r if k.startswith("metrics.") and k.count(".") == 1}
                   | ({"pass_rate_mean"} if recs and "pass_rate_mean" in recs[0] else set()))
    header = ["shard", "in", "out", "dropped", "seconds"] + [k.removeprefix("metrics.") for k in extra]
    rows = [[r["shard"], r["rows_in"], r["rows_out"], r["dropped"], r["seconds"]] + [r.get(k) for k in extra]
            for r in recs[:max_shards]]
    text = table(header, rows)
    if len(recs) > max_shards:
        text += f"\n... {len(recs) - max_shards} more shards in report/shards.csv"
    return text


def write_csv(path: Path, records: dict[str, dict[str, list[dict]]]) -> None:
    flat = [{"run": label, **r} for label, stages in records.items() for recs in stages.values() for r in recs]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(flat)


def _parse_args(args: list[str]) -> tuple[Path, dict]:
    opts = {"coverage": False, "plots": True, "max_shards": 20}
    paths = []
    it = iter(args)
    for a in it:
        if a == "--coverage":
            opts["coverage"] = True
        elif a == "--no-plots":
            opts["plots"] = False
        elif a == "--max-shards":
            value = next(it, "")
            if not value.isdigit():
                raise StatsError(f"--max-shards needs a number, got {value!r}")
            opts["max_shards"] = int(value)
        elif a.startswith("--"):
            raise StatsError(f"unknown option {a!r} (options: --coverage, --no-plots, --max-shards N)")
        else:
            paths.append(a)
    if len(paths) != 1:
        raise StatsError(f"usage: factory stats RUN_DIR [--coverage] [--no-plots] [--max-shards N]; got {args}")
    return Path(paths[0]), opts


def main(cfg, args: list[str]) -> int:
    import sys

    try:
        run_dir, opts = _parse_args(args)
        records = {label: shard_records(path) for label, path in find_runs(run_dir)}
    except StatsError as err:
        print(f"factory stats: error: {err}", file=sys.stderr)
        return 2
    for label, stages in records.items():
        print(f"\n== {label}: {run_dir if label == 'run' else run_dir / label}\n")
        print(stage_table(stages))
        sources = source_table(stages)
        if sources:
            print(f"\n-- {label}: training rows by source\n{sources}")
        for stage, recs in stages.items():
            print(f"\n-- {label} / {stage}: per shard\n{shard_table(recs, opts['max_shards'])}")
    report = run_dir / "report"
    write_csv(report / "shards.csv", records)
    if opts["plots"]:
        from factory.report import plots

        for path in plots.make_all(run_dir, report):
            print(f"plot: {path}")
    if opts["coverage"]:
        from factory.report import coverage

        figures = coverage.plot_coverage(run_dir, report / "coverage.png", benchmark=cfg.benchmark)
        print(f"coverage of {cfg.benchmark}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    print(f"\nreport in {report}")
    return 0
