"""A small iterate-shaped run folder written with the real shard writer, with known figures to check against."""

from pathlib import Path

import pytest

from factory import schema
from factory.executors.shards import write_shard
from factory.stages.base import Dropped, Stage


class Written(Stage):
    """Names the folder and schema rows go to; its metrics are given, as a stage's shard_metrics would return."""

    def __init__(self, name, schema, metrics=None):
        self.name, self.schema, self._metrics = name, schema, metrics

    def shard_metrics(self, rows):
        return self._metrics or {}


def _executions_row(pid: str, rates: list[float], statuses: list[tuple[str, str]]) -> dict:
    verdicts = [{"solution_id": f"{pid}/s{i}", "test_index": i, "status": s, "detail": d, "output": None,
                 "cpu_ms": 1.0} for i, (s, d) in enumerate(statuses)]
    return {"problem_id": pid, "problem": f"problem {pid}", "pass_rates": rates, "verdicts": verdicts}


def write_generate_run(run: Path, errors: int) -> None:
    """2 shards per stage. executions: 4 problems, pass rates [1, 0.5] each; `errors` ValueError verdicts per
    problem plus one timeout; verification: 3 of 4 trusted."""
    for i in range(2):
        shard = f"shard-{i:05d}"
        seeds = [{"seed_id": f"s{i}{j}", "origin": "x.py", "seed": "x = 1"} for j in range(3)]
        write_shard(Written("seeds", schema.SEEDS), run / "seeds", shard, seeds, [], 0, 0.0)
        problems = [dict(r, problem_id=f"p{i}{j}", style="mbpp", problem=f"Problem {i}{j}") for j, r in
                    enumerate(seeds)]
        write_shard(Written("problems", schema.PROBLEMS), run / "problems", shard, problems[:2],
                    [Dropped(problems[2]["problem_id"], "no_problem")], 3, 1.5)
        statuses = [("pass", "")] + [("runtime_error", "ValueError: bad")] * errors + [("timeout", "")]
        rows = [_executions_row(f"p{i}{j}", [1.0, 0.5], statuses) for j in range(2)]
        write_shard(Written("executions", schema.EXECUTIONS, {"statuses": {"pass": 2}, "infra_errors": i}),
                    run / "executions", shard, rows, [], 2, 2.0)
        trusted = 2 if i == 0 else 1
        metrics = {"problems": 2, "trusted": trusted, "agreement": trusted / 2,
                   "error_types": {"timeout": 2}, "pass_rate_histogram": {"1": 2, "(0.25,0.5]": 2}}
        write_shard(Written("verification", schema.VERIFICATION, metrics), run / "verification", shard,
                    [{"problem_id": r["problem_id"], "trusted": True} for r in rows], [], 2, 0.5)


@pytest.fixture
def iterate_run(tmp_path):
    run = tmp_path / "iterate"
    write_generate_run(run / "iter_0", errors=2)
    write_generate_run(run / "iter_1", errors=1)
    return run
