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
    _tokens_reported = 0   # the engine's count at the end of the last shard (no annotation: not a field)

    def resources(self) -> dict[str, Any]:
        return {"num_cpus": self.llm.get("num_cpus", 1), "num_gpus": self.llm.get("num_gpus", 0)}

    def concurrency(self) -> int | None:
        return self.llm.get("concurrency")

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        # Prompts per engine call come from `llm.batch_size`, not Stage's 64: vLLM schedules a whole call
        # continuously, so a small batch leaves its GPUs idle while the stage parses between calls.
        return int(self.llm.get("batch_size") or Stage.batch_size)

    def setup(self) -> None:
        from factory.llm import make_llm

        self.engine = make_llm(self.llm, self.model)

    def shard_metrics(self, rows_out: list[dict]) -> dict:
        """Tokens the engine generated for this shard (backends that count them expose `tokens_out`): the
        console and W&B turn them into tokens/s, docs/deploy.md's capacity plan into tokens per problem."""
        total = getattr(getattr(self, "engine", None), "tokens_out", None)
        if total is None:
            return {}
        # Shards run one after another in a worker, so the count since the last shard is this shard's.
        tokens, self._tokens_reported = total - self._tokens_reported, total
        return {"tokens": tokens}

    def params(self, n: int = 1, key: str | list[str] = "", sampling: Any = None,
               formats: list[str] | None = None) -> Sampling:
        """Sampling for one call. `key`: the row id of each prompt (a list), or one id for the call, then prompt i
        is keyed `key/i`. Each prompt's seed comes from its key, so a retried shard samples the same replies.
        `formats`: each prompt's reply regex (factory/llm/structured.py), enforced when the step's config says
        `structured: true`."""
        s = sampling or self.sampling
        keys = key if isinstance(key, list) else None
        seeds = tuple(self._seed(k) for k in keys) if keys is not None else None
        regexes = tuple(formats) if formats is not None and getattr(s, "structured", False) else None
        return Sampling(n=n, temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens,
                        seed=self._seed(key if isinstance(key, str) else "|".join(key)), seeds=seeds,
                        regexes=regexes)

    def _seed(self, key: str) -> int:
        return int(hashlib.sha1(f"{self.seed}:{key}".encode()).hexdigest()[:8], 16)

    def ask(self, prompts: list, n: int = 1, key: str | list[str] = "", sampling: Any = None,
            formats: list[str] | None = None) -> list[list[str]]:
        if not prompts:
            return []
        if isinstance(key, str):
            key = [f"{key}/{i}" for i in range(len(prompts))]
        if len(key) != len(prompts):
            raise ValueError(f"{self.name}: {len(key)} keys for {len(prompts)} prompts")
        return self.engine.generate(prompts, self.params(n, key, sampling, formats))


def stable_id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:12]
