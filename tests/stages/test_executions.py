"""The executions stage on real Parquet shards with the real local sandbox."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from factory.config import load_config
from factory.executors.shards import run_shard
from factory.schema import EXECUTIONS, TESTS
from factory.stages.executions import Executions


def row(pid: str, solutions: list[str], inputs: list[str], expected: list[str | None]) -> dict:
    base = {f.name: None for f in TESTS}
    return {**base, "problem_id": pid, "entry_point": "double", "params": ["x"], "problem": "double x",
            "solutions": [{"solution_id": f"{pid}/s{i}", "code": code, "reply": code} for i, code in enumerate(solutions)],
            "test_inputs": inputs, "input_kinds": ["general"] * len(inputs), "expected": expected,
            "output_samples": [[e or "?"] for e in expected], "output_reasoning": [[""] for _ in expected],
            "vote_share": [1.0] * len(expected)}


GOOD = "def double(x):\n    return 2 * x\n"
WRONG = "def double(x):\n    return x + 2\n"          # right only for x == 2
CRASH = "def double(x):\n    return x.nope\n"


def test_executions_stage_writes_verdicts_and_pass_rates(tmp_path):
    rows = [row("p0", [GOOD, WRONG, CRASH], ["[2]", "[5]", "[7]", "[1]"], ["4", "10", None, "2"]),
            row("p1", [], ["[1]"], ["2"]),
            row("p2", [GOOD], ["[1]"], [None]),
            row("p3", [GOOD], [], [])]
    (tmp_path / "in").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=TESTS), tmp_path / "in" / "shard-00000.parquet")
    stage = Executions(sandbox=load_config(["sandbox=local", "sandbox.timeout=2", "sandbox.workers=2"]).sandbox)
    assert stage.resources() == {"num_cpus": 2, "sandbox": 1}  # a CPU per warm worker it will start
    stage.setup()
    try:
        stats = run_shard(stage, tmp_path / "in", tmp_path / "out", "shard-00000")
    finally:
        stage.teardown()
    table = pq.read_table(tmp_path / "out" / "shard-00000.parquet")
    assert table.schema.equals(EXECUTIONS)
    out, unlabelled = table.to_pylist()
    assert out["pass_rates"] == [1.0, 1 / 3, 0.0]   # over the labelled inputs only
    # an input with no predicted output still runs (verification may label it by execution)
    assert [(v["status"], v["output"]) for v in unlabelled["verdicts"]] == [("returned", "2")]
    assert unlabelled["pass_rates"] == [0.0]
    by_solution = {}
    for v in out["verdicts"]:
        by_solution.setdefault(v["solution_id"], []).append((v["test_index"], v["status"], v["output"]))
    assert by_solution["p0/s0"] == [(0, "pass", "4"), (1, "pass", "10"), (2, "returned", "14"), (3, "pass", "2")]
    assert by_solution["p0/s1"] == [(0, "pass", "4"), (1, "wrong_answer", "7"), (2, "returned", "9"),
                                    (3, "wrong_answer", "3")]
    assert [s for _, s, _ in by_solution["p0/s2"]] == ["runtime_error"] * 4
    assert all(v["cpu_ms"] > 0 for v in out["verdicts"])
    rejected = pq.read_table(tmp_path / "_meta" / "out" / "rejected" / "shard-00000.parquet").to_pylist()
    assert {(r["id"], r["reason"]) for r in rejected} == {("p1", "no_solutions"), ("p3", "no_tests")}
    metrics = stats["metrics"]
    assert metrics["statuses"] == {"pass": 4, "wrong_answer": 2, "returned": 3, "runtime_error": 4}
    assert metrics["runtime_errors"] == {"AttributeError": 4}
    assert metrics["pass_rate_histogram"] == {"1": 1, "(0.25,0.5]": 1, "0": 2}
    assert json.loads((tmp_path / "_meta" / "out" / "stats" / "shard-00000.json").read_text())["dropped"] == {
        "no_solutions": 1, "no_tests": 1}


def test_on_ray_the_sandbox_starts_one_worker_per_cpu_its_actor_was_given(ray_local):
    """workers=null means the CPUs Ray gave this actor, not the node's: actors asking for one CPU each, as many as
    the node has CPUs, must not each start a worker per core of the node."""
    ray = ray_local
    cfg = load_config(["sandbox=local", "sandbox.timeout=2"]).sandbox
    assert cfg.workers is None and Executions(sandbox=cfg).resources()["num_cpus"] == 1

    @ray.remote(num_cpus=1)
    class Box:
        def workers(self, cfg):
            from factory.sandbox import Case, IOTest, make_sandbox

            with make_sandbox(cfg) as box:
                passed = box.run([Case("c", GOOD, "double", [IOTest("[2]", "4")])])[0][0].status
                return box.num_workers, passed

    assert ray.get(Box.remote().workers.remote(cfg)) == (1, "pass")
