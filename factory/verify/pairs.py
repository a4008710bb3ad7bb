"""SFT and DPO rows for both roles from one verification row (TRL conversational formats, no conversion).

  solver    prompt: the `solution` template (the exact prompt the solutions stage sampled with)
            SFT completion: each distinct chosen solution's reply; DPO: chosen reply vs rejected reply.
  verifier  step test_inputs: the `test_inputs` prompt -> the trusted suite's inputs in the reply's own format
            (SFT only: there is no rejected list of inputs).
            step test_output: the `test_output` template for one selected test input (the tests stage's prompt)
            SFT completion: a sampled reply whose answer equals the input's label (its chain of thought
            kept); DPO: that reply vs each reply whose answer differs (a rejected test).
  repair    (factory/verify/repair.py) for each rejected solution the model fixed so that it passes the trusted
            suite: SFT step repair: the repair prompt (code and failing tests) -> the repair reply; SFT step
            solution: the solver prompt -> the fixed code; DPO step solution: fixed code vs the original code
            (both as bare code blocks, so the pair differs in the code and not in the reply's format).
Every row names its `step` (solution, test_inputs, test_output, repair), the prompt template it was made from,
and its `source`: verified (the rule trusted the problem), soft (an LLM judgement did, factory/verify/soft.py;
every row of such a problem) or repair.
Only trusted rows give data. Candidates made elsewhere may lack replies: a bare code block or an
`Output: <literal>` line stands in, the same format the pipeline's parsers read.
"""

from __future__ import annotations

from itertools import cycle

from factory.prompts import chat
from factory.prompts.fields import test_input_fields
from factory.literals import same_literal
from factory.stages.parse import answer_text, call_text, inputs_text
from factory.verify import boundary
from factory.verify.repair import first_passing


def assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def solver_prompt(row: dict) -> list[dict[str, str]]:
    return chat("solution", problem=row["problem"], signature=row["signature"], entry_point=row["entry_point"])


def verifier_prompt(row: dict, test_index: int) -> list[dict[str, str]]:
    call = call_text(row["entry_point"], row["test_inputs"][test_index])
    return chat("test_output", problem=row["problem"], signature=row["signature"], call=call)


def solution_text(solution: dict) -> str:
    return (solution.get("reply") or "").strip() or f"```python\n{solution['code'].strip()}\n```"


def sample_text(row: dict, test_index: int, sample_index: int) -> str:
    """The whole sampled reply when it carries its `Output:` line, else one built from the bare answer."""
    answer = row["output_samples"][test_index][sample_index]
    reasoning = _at(row.get("output_reasoning"), test_index, sample_index)
    if reasoning and answer_text(reasoning):
        return reasoning.strip()
    return f"{reasoning.strip()}\nOutput: {answer}".strip()


def _at(nested, i: int, j: int) -> str:
    try:
        return nested[i][j] or ""
    except (IndexError, TypeError):
        return ""


def agrees(sample: str | None, expected: str) -> bool:
    """The equality the vote and the sandbox use (factory/literals.py); an unparseable sample never agrees."""
    return bool(sample) and expected is not None and same_literal(sample, expected)


def split_samples(row: dict, test_index: int) -> tuple[list[int], list[int]]:
    """Indices of the samples agreeing and disagreeing with the trusted output of one test."""
    expected = row["labels"][test_index]
    good, bad = [], []
    for j, sample in enumerate(row["output_samples"][test_index]):
        (good if agrees(sample, expected) else bad).append(j)
    return good, bad


def _solutions(row: dict, ids: list[str]) -> list[dict]:
    by_id = {s["solution_id"]: s for s in row["solutions"]}
    return [by_id[i] for i in ids if i in by_id]


def source(row: dict) -> str:
    """Rows made before the soft stage existed (and `factory verify` rows read back) were verified by the rule."""
    return row.get("source") or "verified"


def code_text(code: str) -> str:
    return f"```python\n{code.strip()}\n```"


def _distinct(texts):
    seen = set()
    return [t for t in texts if not (t in seen or seen.add(t))]


def sft_rows(row: dict, num_inputs: int = 6) -> list[dict]:
    """`num_inputs`: the count the test_inputs prompt asked for (generate.num_inputs), so the SFT prompt is the
    prompt the model was sampled with."""
    if not row.get("trusted"):
        return []
    pid, src, out = row["problem_id"], source(row), []
    prompt = solver_prompt(row)
    for text in _distinct(solution_text(s) for s in _solutions(row, row["chosen_solution_ids"])):
        out.append({"role": "solver", "step": "solution", "source": src, "problem_id": pid, "prompt": prompt,
                    "completion": assistant(text)})
    if row["test_indices"]:
        inputs = [row["test_inputs"][i] for i in row["test_indices"]]
        kinds = [(row.get("input_kinds") or [])[i] if i < len(row.get("input_kinds") or []) else "general"
                 for i in row["test_indices"]]
        # A boundary input (0, '', []) is what the prompt calls a corner case: the target speaks its words.
        kinds = ["corner" if k == boundary.KIND else k for k in kinds]
        out.append({"role": "verifier", "step": "test_inputs", "source": src, "problem_id": pid,
                    "prompt": chat("test_inputs", **test_input_fields(row, num_inputs)),
                    "completion": assistant(inputs_text(row["entry_point"], inputs, kinds))})
    for i in row["test_indices"]:
        good, _ = split_samples(row, i)
        if good:
            out.append({"role": "verifier", "step": "test_output", "source": src, "problem_id": pid,
                        "prompt": verifier_prompt(row, i), "completion": assistant(sample_text(row, i, good[0]))})
    return out + repair_sft_rows(row)


def dpo_rows(row: dict) -> list[dict]:
    """One pair per rejected solution and per disagreeing sample, each against a chosen one (cycled)."""
    if not row.get("trusted"):
        return []
    pid, src, out = row["problem_id"], source(row), []
    chosen = _distinct(solution_text(s) for s in _solutions(row, row["chosen_solution_ids"]))
    rejected = _distinct(solution_text(s) for s in _solutions(row, row["rejected_solution_ids"]))
    prompt = solver_prompt(row)
    bad_solutions = [r for r in rejected if r not in chosen] if chosen else []
    for good, bad in zip(cycle(chosen), bad_solutions):
        out.append({"role": "solver", "step": "solution", "source": src, "problem_id": pid, "prompt": prompt,
                    "chosen": assistant(good), "rejected": assistant(bad)})
    for i in row["test_indices"]:
        good_ids, bad_ids = split_samples(row, i)
        goods = _distinct(sample_text(row, i, j) for j in good_ids)
        bads = [b for b in _distinct(sample_text(row, i, j) for j in bad_ids) if b not in goods]
        if goods:
            for good, bad in zip(cycle(goods), bads):
                out.append({"role": "verifier", "step": "test_output", "source": src, "problem_id": pid,
                            "prompt": verifier_prompt(row, i), "chosen": assistant(good), "rejected": assistant(bad)})
    return out + repair_dpo_rows(row)


def _repairs(row: dict) -> list[tuple[dict, dict]]:
    """(passing repair, the solution it fixed) for the first passing attempt of each repaired solution."""
    by_id = {s["solution_id"]: s for s in row["solutions"]}
    return [(r, by_id[r["solution_id"]]) for r in first_passing(row) if r["solution_id"] in by_id]


def repair_sft_rows(row: dict) -> list[dict]:
    if not row.get("trusted"):
        return []
    pid, out, seen = row["problem_id"], [], set()
    for r, _ in _repairs(row):
        out.append({"role": "solver", "step": "repair", "source": "repair", "problem_id": pid,
                    "prompt": r["prompt"], "completion": assistant(r["reply"].strip())})
        if code_text(r["code"]) not in seen:   # two solutions fixed into one program: one solution row
            seen.add(code_text(r["code"]))
            out.append({"role": "solver", "step": "solution", "source": "repair", "problem_id": pid,
                        "prompt": solver_prompt(row), "completion": assistant(code_text(r["code"]))})
    return out


def repair_dpo_rows(row: dict) -> list[dict]:
    if not row.get("trusted"):
        return []
    return [{"role": "solver", "step": "solution", "source": "repair", "problem_id": row["problem_id"],
             "prompt": solver_prompt(row), "chosen": assistant(code_text(r["code"])),
             "rejected": assistant(code_text(original["code"]))} for r, original in _repairs(row)]
