"""PNG plots of a run for `factory stats`: pass-rate distribution, error types per iteration, rows kept per stage.

The figures are read from the data, not from stage metrics: `pass_rates` and `verdicts` of the executions shards
(two columns, read shard by shard with a progress bar, so a 100k-problem run never sits in memory at once) and
the per-shard stats for rows per stage. Each iteration of an iterate run (RUN_DIR/iter_<i>/) is one series.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from factory.report.stats import ALL_STAGES, find_runs, read_stage

BINS = [i / 10 for i in range(11)]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")   # no display on a cluster node or in CI
    import matplotlib.pyplot as plt

    return plt


def _shards(run: Path, stage: str) -> list[Path]:
    return sorted((run / stage).glob("shard-*.parquet"))


def pass_rates(run: Path) -> list[float]:
    """Every solution's pass rate in the run's executions shards."""
    out: list[float] = []
    for path in tqdm(_shards(run, "executions"), desc=f"pass rates {run.name}", unit="shard", leave=False, disable=None):
        col = pq.read_table(path, columns=["pass_rates"]).column(0)
        out += pc.list_flatten(col).to_pylist()
    return [x for x in out if x is not None]


def error_type(status: str, detail: str | None) -> str:
    """A verdict's error type; runtime errors split by exception name ("ValueError: bad" -> runtime_error:ValueError)."""
    if status == "runtime_error" and detail:
        return "runtime_error:" + detail.split(":", 1)[0].strip().split("\n")[0][:40]
    return status


def error_types(run: Path) -> Counter:
    """Counts of non-passing verdicts by type in the run's executions shards."""
    counts: Counter = Counter()
    for path in tqdm(_shards(run, "executions"), desc=f"error types {run.name}", unit="shard", leave=False, disable=None):
        verdicts = pc.list_flatten(pq.read_table(path, columns=["verdicts"]).column(0))
        if len(verdicts) == 0:
            continue
        statuses = pc.struct_field(verdicts, "status").to_pylist()
        details = pc.struct_field(verdicts, "detail").to_pylist()
        counts.update(error_type(s, d) for s, d in zip(statuses, details) if s != "pass")
    return counts


def rows_per_stage(run: Path) -> dict[str, tuple[int, int]]:
    """stage -> (rows in, rows out), from the shard stats."""
    out = {}
    for stage in ALL_STAGES:
        stats = read_stage(run / stage)
        if stats:
            out[stage] = (sum(s["rows_in"] for s in stats), sum(s["rows_out"] for s in stats))
    return out


def plot_pass_rates(runs: list[tuple[str, Path]], path: Path) -> Path | None:
    series = {label: pass_rates(run) for label, run in runs}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(list(series.values()), bins=BINS, label=[f"{k} ({len(v)} solutions)" for k, v in series.items()])
    ax.set(xlabel="pass rate of a solution on its problem's tests", ylabel="solutions",
           title="Pass-rate distribution (executions)")
    ax.legend()
    return _save(fig, path)


def plot_error_types(runs: list[tuple[str, Path]], path: Path, top: int = 12) -> Path | None:
    counts = {label: error_types(run) for label, run in runs}
    total = sum(counts.values(), Counter())
    if not total:
        return None
    kinds = [k for k, _ in total.most_common(top)]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(kinds) + 1.5))
    height = 0.8 / len(counts)
    for i, (label, c) in enumerate(counts.items()):
        ax.barh([j + i * height for j in range(len(kinds))], [c.get(k, 0) for k in kinds], height, label=label)
    ax.set_yticks([j + 0.4 - height / 2 for j in range(len(kinds))], kinds)
    ax.invert_yaxis()
    ax.set(xlabel="verdicts", title="Error types per iteration (non-passing verdicts)")
    ax.legend()
    return _save(fig, path)


def plot_rows(runs: list[tuple[str, Path]], path: Path) -> Path | None:
    per_run = {label: rows_per_stage(run) for label, run in runs}
    stages = [s for s in ALL_STAGES if any(s in r for r in per_run.values())]
    if not stages:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(per_run)
    for i, (label, rows) in enumerate(per_run.items()):
        ax.bar([j + i * width for j in range(len(stages))], [rows.get(s, (0, 0))[1] for s in stages], width,
               label=label)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(stages))], stages, rotation=30)
    ax.set(ylabel="rows kept (out)", title="Rows kept per stage")
    ax.legend()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def make_all(run_dir: Path, report: Path) -> list[Path]:
    """Every plot that has data; returns the files written."""
    runs = find_runs(run_dir)
    made = [plot_pass_rates(runs, report / "pass_rates.png"), plot_error_types(runs, report / "error_types.png"),
            plot_rows(runs, report / "rows_per_stage.png")]
    return [p for p in made if p]


# Figure 4 of the paper: outcomes of every execution per iteration. "assertion" is a wrong answer (the value
# returned is not the expected one); statuses outside the four named ones (syntax errors, memory limit, missing
# entry point, ...) are "other", so each bar sums to 1.
OUTCOMES = {"pass": "pass", "wrong_answer": "assertion (wrong answer)", "runtime_error": "runtime error",
            "timeout": "timeout"}


def execution_outcomes(run: Path) -> Counter:
    """Counts of every verdict of the run's executions shards, by Figure 4 outcome."""
    counts: Counter = Counter()
    for path in tqdm(_shards(run, "executions"), desc=f"outcomes {run.name}", unit="shard", leave=False, disable=None):
        verdicts = pc.list_flatten(pq.read_table(path, columns=["verdicts"]).column(0))
        if len(verdicts):
            counts.update(OUTCOMES.get(s, "other") for s in pc.struct_field(verdicts, "status").to_pylist())
    return counts


def plot_execution_outcomes(runs: list[tuple[str, Path]], path: Path) -> tuple[Path | None, dict]:
    """One stacked bar per iteration: the share of executions per outcome. Returns (file, {label: shares})."""
    counts = {label: execution_outcomes(run) for label, run in runs}
    counts = {k: c for k, c in counts.items() if c}
    shares = {k: {o: n / sum(c.values()) for o, n in c.items()} for k, c in counts.items()}
    if not shares:
        return None, {}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.6 * len(shares) + 3, 4))
    bottom = [0.0] * len(shares)
    for outcome in [*OUTCOMES.values(), "other"]:
        heights = [s.get(outcome, 0.0) for s in shares.values()]
        if any(heights):
            ax.bar(list(shares), heights, bottom=bottom, label=outcome, width=0.6)
            bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set_xticks(range(len(shares)), [f"{k}\n({sum(counts[k].values())} executions)" for k in shares])
    ax.set(ylabel="share of executions", ylim=(0, 1), title="Execution outcomes per iteration")
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left")
    return _save(fig, path), shares


def plot_iterations(rows: list[dict], benchmarks: list[str], path: Path) -> Path | None:
    """Figure 2 of the paper: code pass@1 and test-output accuracy of every evaluated checkpoint (rows of
    RUN_DIR/eval/iterations.json: `label`, `metrics[benchmark][metric]["value"]`), one line per benchmark."""
    if not rows or not benchmarks:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(max(7, 1.3 * len(rows) + 4), 4), sharex=True)
    labels = [r["label"] for r in rows]
    for ax, (key, title) in zip(axes, (("greedy_pass@1", "code pass@1 (greedy)"),
                                       ("output_accuracy", "test output accuracy"))):
        for bench in benchmarks:
            values = [((r["metrics"].get(bench) or {}).get(key) or {}).get("value") for r in rows]
            ax.plot(labels, [float("nan") if v is None else v for v in values], marker="o", label=bench)
        ax.set(title=title)
        ax.set_ylim(bottom=0)
        ax.tick_params(axis="x", rotation=30)
        ax.legend()
    return _save(fig, path)
