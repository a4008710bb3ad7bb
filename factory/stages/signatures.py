"""Signature extraction: the model writes starter code; `ast` checks it is one usable function."""

from __future__ import annotations

import dataclasses

from factory.prompts import chat
from factory.schema import SIGNATURES
from factory.stages.base import Dropped
from factory.stages.llm_stage import LLMStage
from factory.stages.parse import extract_code, parse_signature


@dataclasses.dataclass
class Signatures(LLMStage):
    name = "signatures"
    schema = SIGNATURES
    requires = ("problem_id", "problem")

    def process(self, rows):
        replies = self.ask([chat("signature", problem=r["problem"]) for r in rows], key=[r["problem_id"] for r in rows])
        for row, (reply,) in zip(rows, replies):
            code = extract_code(reply)
            parsed = parse_signature(code) if code else "no_code_block"
            if isinstance(parsed, str):
                yield Dropped(row["problem_id"], parsed, reply)
                continue
            entry_point, params, starter = parsed
            yield {**row, "signature": starter, "entry_point": entry_point, "params": params}
