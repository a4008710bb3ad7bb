"""Test generation, two calls as in the paper: test inputs first, then K sampled expected outputs per input.

Every sample is kept with its chain of thought. `expected` here is the plain majority (ties give none);
verification applies the quorum (`verify.min_votes`, `verify.min_share`) or labels inputs by execution.

The problem's own example calls (`>>> f(1, 2)`, `f(3) == 4`, "Example: f([1, 2]) -> 3") join the suite as
inputs of kind `example` (`generate.example_inputs`, up to that many): the problem's author chose them to show
what the task means, so programs that agree on a misreading of it tend to part on them. Only their inputs are
taken; their stated outputs are never labels (a weak model's examples are often wrong): labels stay the vote
or the execution consensus.

Boundary inputs (`generate.boundary_inputs`, kind `boundary`: 0-3, '', [] put into the first input, one argument
at a time; factory/verify/boundary.py) come last: edges that neither the model nor the statement proposed, where
programs that agree elsewhere part. With `generate.boundary_outputs=false` no outputs are sampled for them:
execution labels them (`verify.outputs=executed`), at no LLM cost, and the verifier gets no rows on them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from factory.llm import structured
from factory.prompts import chat
from factory.prompts.fields import test_input_fields
from factory.schema import TESTS
from factory.stages.base import Dropped
from factory.stages.llm_stage import LLMStage
from factory.stages.parse import answer_text, call_text, parse_inputs
from factory.verify import boundary
from factory.verify.examples import example_inputs
from factory.verify.vote import majority


@dataclasses.dataclass
class Tests(LLMStage):
    name = "tests"
    schema = TESTS
    requires = ("problem_id", "problem", "signature", "entry_point", "params")
    output_sampling: Any = None   # cfg.generate.test_output (the inputs call uses `sampling`)
    num_inputs: int = 6
    num_outputs: int = 4
    input_samples: int = 1   # replies sampled for the inputs call; their inputs are pooled (generate.input_samples)
    example_inputs: int = 0  # inputs taken from example calls in the problem text, at most (generate.example_inputs)
    boundary_inputs: int = 0  # boundary inputs added, at most (generate.boundary_inputs)
    boundary_outputs: bool = True  # sample the verifier's outputs for them too (generate.boundary_outputs)

    def _examples(self, row: dict) -> list[tuple[str, str]]:
        """Inputs of the entry point's calls written in the problem statement, in order, without duplicates."""
        if self.example_inputs <= 0:
            return []
        found = example_inputs(row["problem"], row["entry_point"], list(row["params"]))
        return [(inp, "example") for inp in found[: self.example_inputs]]

    def _inputs(self, row: dict, samples: list[str]) -> tuple[list[tuple[str, str]], list]:
        """Inputs of every sampled reply, pooled in sampling order without duplicates: a weak model lists one or
        two usable inputs per reply, several replies together make a suite."""
        seen, pooled, rejects = set(), [], []
        for reply in samples:
            found = parse_inputs(reply, len(row["params"]), row["entry_point"], row["params"], rejects)
            for inp, kind in ([] if isinstance(found, str) else found):
                if inp not in seen:
                    seen.add(inp)
                    pooled.append((inp, kind))
        return pooled, rejects

    def process(self, rows):
        prompts = [chat("test_inputs", **test_input_fields(r, self.num_inputs)) for r in rows]
        formats = [structured.test_inputs(r["entry_point"], len(r["params"]), self.num_inputs) for r in rows]
        replies = self.ask(prompts, n=self.input_samples, key=[r["problem_id"] for r in rows], formats=formats)
        todo = []
        for row, samples in zip(rows, replies):
            inputs, rejects = self._inputs(row, samples)
            for j, (reason, line) in enumerate(rejects):
                yield Dropped(f"{row['problem_id']}/input{j}", reason, line)
            # Examples go after the model's inputs and outside its cap, so the model's inputs (and the keys of
            # their output prompts) are the same with examples on or off.
            inputs = inputs[: self.num_inputs]
            seen = {i for i, _ in inputs}
            inputs += [e for e in self._examples(row) if e[0] not in seen]
            probes = boundary.boundary_inputs([i for i, _ in inputs], self.boundary_inputs)
            inputs += [(b, boundary.KIND) for b in probes]
            if inputs:
                todo.append((row, inputs))
            else:
                yield Dropped(row["problem_id"], "no_valid_inputs", samples[0] if samples else "")
        # One batched call for every (problem, input) pair of the batch: engines batch far better than a loop.
        # Keys keep each input's index, so skipping boundary inputs changes no other input's seed.
        asked = [(row, j, inp) for row, inputs in todo for j, (inp, kind) in enumerate(inputs)
                 if self.boundary_outputs or kind != boundary.KIND]
        out_prompts = [chat("test_output", problem=row["problem"], signature=row["signature"],
                            call=call_text(row["entry_point"], inp)) for row, _, inp in asked]
        keys = [f"{row['problem_id']}/out{j}" for row, j, _ in asked]
        replies = self.ask(out_prompts, n=self.num_outputs, key=keys, sampling=self.output_sampling,
                           formats=[structured.test_output()] * len(out_prompts))
        sampled = dict(zip(keys, replies))
        for row, inputs in todo:
            outs = [sampled.get(f"{row['problem_id']}/out{j}", []) for j in range(len(inputs))]
            answers = [[answer_text(r, row["entry_point"]) for r in replies] for replies in outs]
            votes = [majority(a) for a in answers]
            yield {**row,
                   "test_inputs": [i for i, _ in inputs],
                   "input_kinds": [k for _, k in inputs],
                   "output_samples": answers,
                   "output_reasoning": outs,
                   "expected": [v[0] for v in votes],
                   "vote_share": [v[1] for v in votes]}

