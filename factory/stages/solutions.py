"""Solutions: N sampled solutions per problem, reasoning as comments, code extracted and checked with `ast`."""

from __future__ import annotations

import dataclasses

from factory.prompts import chat
from factory.schema import SOLUTIONS
from factory.stages.base import Dropped
from factory.stages.llm_stage import LLMStage
from factory.stages.parse import extract_code, parse_solution


@dataclasses.dataclass
class Solutions(LLMStage):
    name = "solutions"
    schema = SOLUTIONS
    requires = ("problem_id", "problem", "signature", "entry_point")
    num_solutions: int = 4

    def process(self, rows):
        prompts = [chat("solution", problem=r["problem"], signature=r["signature"], entry_point=r["entry_point"])
                   for r in rows]
        replies = self.ask(prompts, n=self.num_solutions, key=[r["problem_id"] for r in rows])
        for row, samples in zip(rows, replies):
            solutions = []
            for i, reply in enumerate(samples):
                sid = f"{row['problem_id']}/s{i}"
                code = extract_code(reply)
                reason = parse_solution(code, row["entry_point"])
                if reason:
                    # One bad sample is reported, the problem goes on with the others.
                    yield Dropped(sid, f"solution_{reason}", reply)
                else:
                    solutions.append({"solution_id": sid, "code": code, "reply": reply})
            if solutions:
                yield {**row, "solutions": solutions}
            else:
                yield Dropped(row["problem_id"], "no_valid_solutions", "")
