"""Problem synthesis: the model writes a self-contained problem inspired by a seed snippet, in one of several styles."""

from __future__ import annotations

import dataclasses

from factory.prompts import chat
from factory.schema import PROBLEMS
from factory.stages.base import Dropped
from factory.stages.llm_stage import LLMStage, stable_id


@dataclasses.dataclass
class Problems(LLMStage):
    name = "problems"
    schema = PROBLEMS
    requires = ("seed_id", "seed")
    styles: tuple[str, ...] = ("mbpp", "apps", "codecontests")
    min_chars: int = 40   # shorter replies are not a problem statement

    def process(self, rows):
        # Style from the seed id: deterministic, and spread evenly over a shard.
        styles = [self.styles[int(r["seed_id"], 16) % len(self.styles)] for r in rows]
        prompts = [chat(f"problem_{st}", seed=r["seed"]) for r, st in zip(rows, styles)]
        replies = self.ask(prompts, key=[r["seed_id"] for r in rows])
        for row, style, (reply,) in zip(rows, styles, replies):
            pid = stable_id("p", row["seed_id"], style)
            text = reply.strip()
            if len(text) < self.min_chars:
                yield Dropped(pid, "empty_reply" if not text else "too_short", text)
                continue
            yield {**row, "problem_id": pid, "style": style, "problem": text}
