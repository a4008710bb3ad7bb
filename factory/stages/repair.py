"""The repair and repair_executions stages: rejected solutions fixed by the model, then run on the trusted suite.

Two stages so no worker needs both a model and a sandbox (no node group offers GPUs and the `sandbox` resource
together): `repair` (LLM resources) writes the attempts into the row's `repairs` column, `repair_executions`
(the `sandbox` resource, as executions) runs them and fills `passed`. The sft and dpo stages read the latter and
turn each passing repair into rows marked `source=repair` (factory/verify/pairs.py). What is repaired and how
it is judged: factory/verify/repair.py.

With `repair.enabled=false` (the default: on SmolLM2 it lowers the data's precision, docs/verification.md)
both stages pass rows through with an empty `repairs` list, build no engine or sandbox and ask for one CPU.
Every attempt that yields no row is a counted drop: repair_no_code_block, repair_syntax_error,
repair_missing_entry_point, repair_unchanged, repair_no_failing_test, repair_fails_tests, repair_infra_error.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from factory.sandbox import ray_resources
from factory.sandbox.verdicts import is_infra
from factory.schema import REPAIR, REPAIR_EXECUTIONS
from factory.stages.base import Dropped, Stage
from factory.stages.llm_stage import LLMStage
from factory.verify import repair

NEEDS = ("problem_id", "problem", "entry_point", "solutions", "test_inputs", "labels", "verdicts", "trusted",
         "source", "chosen_solution_ids", "rejected_solution_ids")


@dataclasses.dataclass
class Repair(LLMStage):
    name = "repair"
    schema = REPAIR
    requires = NEEDS
    repair: Any = None   # cfg.repair: enabled, attempts, max_feedback_tests, sampling

    def resources(self) -> dict[str, Any]:
        return super().resources() if self.repair.enabled else {"num_cpus": 1}

    def concurrency(self) -> int | None:
        return super().concurrency() if self.repair.enabled else None

    def setup(self) -> None:
        if self.repair.enabled and getattr(self, "engine", None) is None:
            super().setup()

    def process(self, rows):
        outs = [{**r, "repairs": []} for r in rows]
        jobs = []
        for out in outs if self.repair.enabled else []:
            for solution, feedback in repair.candidates(out):
                if not feedback:
                    yield Dropped(solution["solution_id"], "repair_no_failing_test")
                    continue
                limit = int(self.repair.max_feedback_tests)
                jobs.append((out, solution, repair.prompt(out, solution, feedback, limit)))
        replies = self.ask([p for _, _, p in jobs], n=int(self.repair.attempts),
                           key=[s["solution_id"] for _, s, _ in jobs]) if jobs else []
        for (out, solution, prompt), samples in zip(jobs, replies):
            for k, reply in enumerate(samples):
                record, why = repair.attempt(out, solution, k, prompt, reply)
                if record is None:
                    yield Dropped(f"{solution['solution_id']}/r{k}", why, reply)
                else:
                    out["repairs"].append(record)
        yield from outs

    def shard_metrics(self, rows_out: list[dict]) -> dict:
        return {**super().shard_metrics(rows_out),   # the engine's tokens
                "problems": len(rows_out), "problems_with_attempts": sum(bool(r["repairs"]) for r in rows_out),
                "attempts": sum(len(r["repairs"]) for r in rows_out)}


@dataclasses.dataclass
class RepairExecutions(Stage):
    name = "repair_executions"
    schema = REPAIR_EXECUTIONS
    requires = NEEDS + ("repairs",)
    batch_size = 16
    repair: Any = None    # cfg.repair
    sandbox: Any = None   # cfg.sandbox

    def __post_init__(self):
        self._box = None

    def resources(self) -> dict[str, Any]:
        return ray_resources(self.sandbox) if self.repair.enabled else {"num_cpus": 1}

    def setup(self) -> None:
        if self.repair.enabled and self._box is None:
            from factory.sandbox import make_sandbox
            from factory.sandbox.selfcheck import checked

            self._box = checked(make_sandbox(self.sandbox), self.sandbox)

    def teardown(self) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None

    def process(self, rows):
        jobs = [(row, r) for row in rows for r in row["repairs"]]
        if jobs:
            self.setup()
        results = self._box.run([repair.case(row, r) for row, r in jobs]) if jobs else []
        done: dict[str, dict] = {}
        for (row, r), verdicts in zip(jobs, results):
            bad = next((v for v in verdicts if v.status != "pass"), None)
            if bad is None and verdicts:
                done[r["repair_id"]] = {**r, "passed": True, "detail": ""}
                continue
            detail = f"{bad.status}: {bad.detail}"[:500] if bad else "no tests"
            infra = any(is_infra(v.status) for v in verdicts)
            done[r["repair_id"]] = {**r, "passed": None if infra else False, "detail": detail}
            yield Dropped(r["repair_id"], "repair_infra_error" if infra else "repair_fails_tests", detail)
        for row in rows:
            yield {**row, "repairs": [done[r["repair_id"]] for r in row["repairs"]]}

    def shard_metrics(self, rows_out: list[dict]) -> dict:
        attempts = [r for row in rows_out for r in row["repairs"]]
        return {"problems": len(rows_out), "attempts": len(attempts),
                "passed": sum(r["passed"] is True for r in attempts),
                "repaired_solutions": sum(len(repair.first_passing(row)) for row in rows_out),
                "problems_repaired": sum(bool(repair.first_passing(row)) for row in rows_out)}
