"""The soft stage: verification rows -> the same rows, untrusted problems brought back by an LLM judgement.

Placement: after verification, before repair and sft/dpo. The judgement needs what verification computes (the
labels, the re-judged verdicts, the scores and the rule's decision), and nothing else: the failing tests it
shows the model are already in the row, so this step needs the model and no sandbox. As its own stage it asks
only for LLM resources (GPUs on a cluster); the verification stage keeps asking only for the sandbox. (Before,
one actor asked for both, which no node group provides.) Every verification column passes through unchanged
for the rows it does not bring back; each row gains `source` (verified, soft, or null when untrusted) and
`soft_judgements`. The rules are factory/verify/soft.py.

With `verify.soft.enabled=false` this stage builds no engine, asks for one CPU and only adds the two columns.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from factory.schema import SOFT
from factory.stages.base import Dropped
from factory.stages.llm_stage import LLMStage
from factory.stages.verification import _plain
from factory.verify import soft


@dataclasses.dataclass
class Soft(LLMStage):
    name = "soft"
    schema = SOFT
    requires = ("problem_id", "problem", "entry_point", "solutions", "test_inputs", "labels", "label_reasons",
                "verdicts", "scores", "trusted", "reason", "chosen_solution_ids", "rejected_solution_ids")
    verify: Any = None   # cfg.verify: the band and votes (verify.soft) and the rule, min_tests, selection keys

    def __post_init__(self):
        self.opts = _plain(self.verify)
        self.cfg = self.opts.soft

    @property
    def enabled(self) -> bool:
        return bool(self.cfg.enabled)

    def resources(self) -> dict[str, Any]:
        return super().resources() if self.enabled else {"num_cpus": 1}

    def concurrency(self) -> int | None:
        return super().concurrency() if self.enabled else None

    def setup(self) -> None:
        if self.enabled and getattr(self, "engine", None) is None:
            super().setup()

    def process(self, rows):
        outs = [{**r, "source": "verified" if r["trusted"] else None, "soft_judgements": []} for r in rows]
        jobs = [(out, s) for out in outs if self.enabled
                for s in soft.band_solutions(out, float(self.cfg.low), float(self.cfg.high))]
        if jobs and getattr(self, "engine", None) is None:
            raise RuntimeError("Soft.setup() was not called")
        replies = self.ask([soft.prompt(out, s) for out, s in jobs], n=int(self.cfg.samples),
                           key=[s["solution_id"] for _, s in jobs]) if jobs else []
        for (out, s), samples in zip(jobs, replies):
            out["soft_judgements"] += [{"solution_id": s["solution_id"], "correct": soft.parse_judgement(r),
                                        "reasoning": r} for r in samples]
        for i, out in enumerate(outs):
            if not out["soft_judgements"]:
                yield out
                continue
            chosen = soft.soft_chosen(out["soft_judgements"], int(self.cfg.votes))
            if not chosen:
                yield Dropped(out["problem_id"], "soft_judged_incorrect")   # a part: the row goes on, untrusted
                yield out
                continue
            new, why = soft.apply(out, chosen, self.opts)
            if why:
                yield Dropped(out["problem_id"], why)
            for t, (before, after) in enumerate(zip(out["labels"], new["labels"])):
                if before is not None and after is None:
                    yield Dropped(f"{out['problem_id']}/test{t}", "soft_dropped", f"failed by {', '.join(chosen)}")
            yield new

    def shard_metrics(self, rows_out: list[dict]) -> dict:
        judged = [r for r in rows_out if r["soft_judgements"]]
        verdicts = Counter({True: "correct", False: "incorrect", None: "unparsed"}[j["correct"]]
                           for r in judged for j in r["soft_judgements"])
        return {**super().shard_metrics(rows_out), "problems": len(rows_out),   # + the engine's tokens
                "verified": sum(r["source"] == "verified" for r in rows_out),
                "soft_judged": len(judged),
                "soft_trusted": sum(r["source"] == "soft" for r in rows_out),
                "judgements": dict(verdicts),
                "soft_chosen": sum(len(r["chosen_solution_ids"]) for r in rows_out if r["source"] == "soft")}
