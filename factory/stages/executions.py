"""Executions: every solution of a problem against every test input, in the sandbox.

Every input runs, labelled or not: an input with a predicted expected output is judged against it (pass,
wrong_answer, ...); one without is run for its output alone (status `returned`). Verification then labels the
inputs (`verify.outputs`: predicted, executed or agreed) and re-judges returned values against the labels, so
changing the labelling mode never needs the sandbox again.

Runs on CPU workers that hold a custom Ray resource (`sandbox.ray_resource`), so a cluster can place it on its
CPU nodes. One sandbox per worker, built in setup(): its warm processes serve every batch of the worker.
A whole batch goes to the sandbox at once, so all its workers stay busy.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from factory.sandbox import Case, IOTest, make_sandbox, ray_resources
from factory.sandbox.verdicts import is_infra
from factory.sandbox.selfcheck import checked
from factory.schema import EXECUTIONS
from factory.stages.base import Dropped, Stage

BINS = ((0.0, "0"), (0.25, "(0,0.25]"), (0.5, "(0.25,0.5]"), (0.75, "(0.5,0.75]"), (0.999999, "(0.75,1)"), (1.0, "1"))


@dataclasses.dataclass
class Executions(Stage):
    name = "executions"
    schema = EXECUTIONS
    requires = ("solutions", "test_inputs", "expected", "entry_point")
    batch_size = 16
    sandbox: Any = None   # cfg.sandbox: kind, timeout, limits, ray_resource

    def __post_init__(self):
        if self.sandbox is None:
            raise ValueError("Executions needs its sandbox config: Executions(sandbox=cfg.sandbox)")
        self._box = None

    def resources(self) -> dict[str, Any]:
        return ray_resources(self.sandbox)

    def concurrency(self) -> int | None:
        return None

    def setup(self) -> None:
        if self._box is None:
            self._box = checked(make_sandbox(self.sandbox), self.sandbox)   # known-good/bad cases first

    def teardown(self) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None

    def process(self, rows):
        self.setup()
        jobs, cases = [], []   # jobs: (row, test indices, predicted expected values)
        for row in rows:
            solutions = row.get("solutions") or []
            expected = row.get("expected") or [None] * len(row.get("test_inputs") or [])
            usable = list(range(len(row.get("test_inputs") or [])))
            if not solutions:
                yield Dropped(row["problem_id"], "no_solutions")
                continue
            if not usable:
                yield Dropped(row["problem_id"], "no_tests")
                continue
            tests = [IOTest(row["test_inputs"][i], expected[i]) for i in usable]
            jobs.append((row, usable, expected))
            cases += [Case(s["solution_id"], s["code"], row["entry_point"], tests) for s in solutions]
        results = iter(self._box.run(cases) if cases else [])
        for row, usable, expected in jobs:
            verdicts, rates = [], []
            for solution in row["solutions"]:
                run = next(results)
                verdicts += [{"solution_id": solution["solution_id"], "test_index": index, "status": v.status,
                              "detail": v.detail, "output": v.output, "cpu_ms": round(v.cpu_ms, 3)}
                             for index, v in zip(usable, run)]
                labelled = [v for i, v in zip(usable, run) if expected[i] is not None]
                rates.append(sum(v.status == "pass" for v in labelled) / len(labelled) if labelled else 0.0)
            yield {**row, "verdicts": verdicts, "pass_rates": rates}

    def shard_metrics(self, rows: list[dict]) -> dict:
        statuses, errors, histogram = Counter(), Counter(), Counter()
        for row in rows:
            for v in row["verdicts"]:
                statuses[v["status"]] += 1
                if v["status"] == "runtime_error":
                    errors[(v["detail"] or "?").split(":", 1)[0][:60]] += 1
            for rate in row["pass_rates"]:
                histogram[next(label for edge, label in BINS if rate <= edge)] += 1
        cpu = [v["cpu_ms"] for row in rows for v in row["verdicts"]]
        # Always present (0 on a healthy cluster): verdicts the sandbox could not give, after its retries.
        infra = sum(n for status, n in statuses.items() if is_infra(status))
        return {"statuses": dict(statuses), "runtime_errors": dict(errors.most_common(20)),
                "pass_rate_histogram": dict(histogram), "executions": len(cpu), "infra_errors": infra,
                "cpu_ms_mean": round(sum(cpu) / len(cpu), 3) if cpu else 0.0}
