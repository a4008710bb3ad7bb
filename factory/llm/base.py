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
    # One seed per prompt, in prompt order (None: `seed` for the whole call). Stages derive them from row ids, so
    # a prompt samples the same replies whatever batch it lands in, and prompts of one batch are not correlated.
    seeds: tuple[int, ...] | None = None
    # One reply format per prompt, in prompt order: a regex the whole reply must match (factory/llm/structured.py),
    # None for a free reply. Backends that constrain decoding enforce it; `regex_of` is how they read it.
    regexes: tuple[str | None, ...] | None = None

    def regex_of(self, i: int) -> str | None:
        """The regex prompt i's reply must match, or None (free text)."""
        return self.regexes[i] if self.regexes is not None else None

    def seed_of(self, i: int) -> int | None:
        """The seed of prompt i: its own when `seeds` is set, else `seed` (None: unseeded)."""
        return self.seeds[i] if self.seeds is not None else self.seed


class LLM(Protocol):
    def generate(self, prompts: list[Messages], sampling: Sampling) -> list[list[str]]:
        """Return `sampling.n` replies for each prompt, in prompt order. Never raises for one bad prompt:
        a prompt whose generation failed gets empty strings (the stage then drops it with a reason). But when
        every prompt of a call (two or more) failed, or the engine itself failed, it raises: the executor retries
        the shard rather than writing a shard of drops marked complete."""
        ...


class BackendFailed(RuntimeError):
    """The backend failed for every prompt of a call: an engine, endpoint or config problem, not a bad prompt."""


def raise_if_all_failed(backend: str, failed: int, total: int, last_error: object) -> None:
    """Per-prompt failures become empty replies, but not all of them: a call where every prompt failed says the
    backend is broken (a dead engine, a wrong max_tokens), and its empty replies would be stored as drops."""
    if total > 1 and failed == total:
        raise BackendFailed(f"llm={backend}: all {total} prompts of the call failed; last error: {last_error!r}")
