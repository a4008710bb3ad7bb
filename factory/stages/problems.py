"""Problem synthesis: the model writes a self-contained problem inspired by a seed snippet, in one of several styles.

A small model often writes the solution into the statement despite the prompt (SmolLM2-135M: 15 of 32
statements held a function with a body). A solver row whose prompt contains its answer teaches copying, so
`generate.problem_code` says what to do with such a statement: `strip` (default) replaces every function body in
its code blocks with `...`, keeping the header and docstring (the signature is part of the task, the body is
not; example calls beside it stay), and counts each stripped block as a dropped part `solution_in_problem`;
`drop` drops the problem with that reason; `keep` leaves it (the behaviour before this key).
"""

from __future__ import annotations

import ast
import dataclasses
import re

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
    problem_code: str = "keep"   # strip | drop | keep: a statement holding a solution (generate.problem_code)

    def __post_init__(self):
        if self.problem_code not in CODE_POLICIES:
            raise ValueError(f"generate.problem_code={self.problem_code!r}: expected one of {', '.join(CODE_POLICIES)}")

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
            if self.problem_code != "keep":
                stubbed, solutions = strip_solutions(text)
                if solutions and self.problem_code == "drop":
                    yield Dropped(pid, "solution_in_problem", text)
                    continue
                for j, code in enumerate(solutions):
                    yield Dropped(f"{pid}/code{j}", "solution_in_problem", code)
                text = stubbed
            yield {**row, "problem_id": pid, "style": style, "problem": text}


CODE_POLICIES = ("strip", "drop", "keep")
_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)


def strip_solutions(text: str) -> tuple[str, list[str]]:
    """(`text` with the body of every function in its code blocks replaced by `...`, the blocks so changed).
    A block that does not parse, or whose functions are stubs already, is left as written."""
    stripped: list[str] = []

    def stub(match: re.Match) -> str:
        code = match.group(1)
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return match.group(0)
        changed = False
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _implemented(node):
                doc = node.body[:1] if ast.get_docstring(node) is not None else []
                node.body, changed = doc + [ast.Expr(ast.Constant(...))], True
        if not changed:
            return match.group(0)
        stripped.append(code)
        return "```python\n" + ast.unparse(tree) + "\n```"

    return _BLOCK.sub(stub, text), stripped


def _implemented(fn: ast.AST) -> bool:
    """A body beyond a docstring, `pass` and `...`."""
    return any(not (isinstance(n, ast.Pass) or isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                    and (n.value.value is ... or isinstance(n.value.value, str))) for n in fn.body)
