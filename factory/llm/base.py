"""One small interface for every LLM backend (hf, vllm, openai).

A backend takes chat prompts (lists of {"role", "content"} messages) and returns, per prompt, `n` sampled
reply strings. Stages only ever see this interface; which engine runs is config (`llm=hf|vllm|openai`).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

Messages = list[dict[str, str]]


@dataclasses.dataclass(frozen=True)
class Sampling:
    n: int = 1
    temperature: float = 0.0   # 0 means greedy
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None


class LLM(Protocol):
    def generate(self, prompts: list[Messages], sampling: Sampling) -> list[list[str]]:
        """Return `sampling.n` replies for each prompt, in prompt order. Never raises for one bad prompt:
        a prompt whose generation failed gets empty strings (the stage then drops it with a reason)."""
        ...
