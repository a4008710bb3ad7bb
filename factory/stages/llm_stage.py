"""Common ground of the stages that call the model: the backend built once per worker, placement from config."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from factory.llm.base import Sampling
from factory.stages.base import Stage


@dataclasses.dataclass
class LLMStage(Stage):
    llm: Any            # cfg.llm: backend and placement (num_gpus, concurrency, batch_size)
    model: Any          # cfg.model: which weights
    sampling: Any       # cfg.generate.<role>: temperature, top_p, max_tokens
    seed: int = 0

    def resources(self) -> dict[str, Any]:
        return {"num_cpus": self.llm.get("num_cpus", 1), "num_gpus": self.llm.get("num_gpus", 0)}

    def concurrency(self) -> int | None:
        return self.llm.get("concurrency")

    def setup(self) -> None:
        from factory.llm import make_llm

        self.engine = make_llm(self.llm, self.model)

    def params(self, n: int = 1, key: str = "", sampling: Any = None) -> Sampling:
        # Seed from the batch's ids so a retried shard samples the same replies as the first attempt.
        seed = int(hashlib.sha1(f"{self.seed}:{key}".encode()).hexdigest()[:8], 16)
        s = sampling or self.sampling
        return Sampling(n=n, temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, seed=seed)

    def ask(self, prompts: list, n: int = 1, key: str = "", sampling: Any = None) -> list[list[str]]:
        return self.engine.generate(prompts, self.params(n, key, sampling)) if prompts else []


def stable_id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:12]
