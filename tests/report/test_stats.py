"""`factory stats`: figures from the shard stats and data, the tables, CSV, plots, and clear errors."""

import csv
import subprocess
import sys

import matplotlib.image as mpimg
import pytest

from factory.config import load_config
from factory.report import plots, stats


def test_figures_of_an_iterate_run(iterate_run):
    runs = stats.find_runs(iterate_run)
    assert [label for label, _ in runs] == ["iter_0", "iter_1"]
    records = stats.shard_records(runs[0][1], progress=False)
    assert list(records) == ["seeds", "problems", "executions", "verification"]
    problems = stats.stage_summary(records["problems"])
    assert (problems["rows_in"], problems["rows_out"], problems["kept"]) == (6, 4, 0.6667)
    assert problems["drops"] == {"no_problem": 2}
    assert stats.stage_summary(records["verification"])["agreement"] == 0.75   # 3 of 4, weighted not averaged
    assert stats.stage_summary(records["executions"])["pass_rate_mean"] == 0.75
    assert stats.stage_summary(records["executions"])["infra_errors"] == 1   # shard 1's one sandbox fault
    assert "infra_errors" not in stats.stage_summary(records["problems"])
    assert records["verification"][0]["metrics.error_types.timeout"] == 2
    assert plots.error_types(runs[0][1]) == {"runtime_error:ValueError": 8, "timeout": 4}
    assert plots.error_types(runs[1][1]) == {"runtime_error:ValueError": 4, "timeout": 4}
    assert sorted(plots.pass_rates(runs[1][1])) == [0.5] * 4 + [1.0] * 4


def test_stats_command_prints_tables_and_writes_report(iterate_run, capsys):
    assert stats.main(load_config([]), [str(iterate_run), "--max-shards", "1"]) == 0
    out = capsys.readouterr().out
    assert "== iter_0" in out and "== iter_1" in out
    assert "-- iter_1 / verification: per shard" in out and "1 more shards in report/shards.csv" in out
    line = next(l for l in out.splitlines() if l.startswith("problems"))
    assert line.split()[1:5] == ["2", "6", "4", "0.667"]
    header = next(l for l in out.splitlines() if l.startswith("stage "))
    executions = next(l for l in out.splitlines() if l.startswith("executions"))
    assert executions.split()[header.split().index("infra")] == "1"
    report = iterate_run / "report"
    with open(report / "shards.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 4 * 2 and {r["run"] for r in rows} == {"iter_0", "iter_1"}
    for name in ("pass_rates", "error_types", "rows_per_stage"):
        image = mpimg.imread(report / f"{name}.png")
        assert image.shape[0] > 100 and image.std() > 0, name   # a real picture, not a blank canvas


def test_cli_form_and_errors(iterate_run, tmp_path):
    ok = subprocess.run([sys.executable, "-m", "factory.cli", "stats", str(iterate_run / "iter_0"), "--no-plots"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "executions" in ok.stdout and not (iterate_run / "iter_0" / "report" / "pass_rates.png").exists()

    missing = subprocess.run([sys.executable, "-m", "factory.cli", "stats", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "nope does not exist" in missing.stderr

    bad = iterate_run / "iter_1" / "_meta" / "executions" / "stats" / "shard-00001.json"
    bad.write_text("{not json")
    with pytest.raises(stats.StatsError, match="shard-00001.json"):
        stats.read_stage(iterate_run / "iter_1" / "executions")
    assert stats.main(load_config([]), [str(iterate_run), "--colour"]) == 2
