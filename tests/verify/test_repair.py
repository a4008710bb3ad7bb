"""Repair from execution feedback, end to end on real HumanEval code through the real sandbox.

fibfib (HumanEval/63, 7 tests) with the canonical solution s0 (chosen under strict), its four AST mutants
s1-s4 and s5, a solution that raises: all five rejected. A scripted model behind the OpenAI API
(tests/scripted_model.py) answers repair prompts; repair writes the attempts, repair_executions runs them on the
trusted suite, sft/dpo turn passing ones into `source=repair` rows.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.executors.shards import read_rejected, read_stats
from factory.stages.parse import extract_code
from tests.scripted_model import ScriptedServer
from tests.stages.test_verification import FIB, ids, run_verification
from tests.verify import humaneval as he

CANONICAL = he.solution("HumanEval/63")
BOOM = "def fibfib(n: int):\n    raise ValueError('boom')\n"


def fib_row() -> dict:
    row = he.tests_row(*FIB)
    row["solutions"].append({"solution_id": "HumanEval_63/s5", "code": BOOM, "reply": f"```python\n{BOOM}```"})
    return row


def fixer(prompt: str, index: int) -> str:
    return f"The bug is fixed:\n```python\n{CANONICAL}```" if "Find the bug" in prompt else "?"


def garbage(prompt: str, index: int) -> str:
    """Prose for two_is_two, the original code back for zero_base, a wrong program for the rest."""
    if "Find the bug" not in prompt:
        return "?"
    code = re.search(r"```python\n(.*?)```", prompt, re.S).group(1)
    if "return 2" in code:
        return "I am not sure what you mean."
    if "if n == 1:\n        return 1" in code:
        return f"```python\n{code}```"
    return "```python\ndef fibfib(n: int):\n    return 0\n```"


def repair_run(run_dir, reply_fn, *extra):
    server = ScriptedServer(reply_fn)
    try:
        run_verification(run_dir, [fib_row()], "verify.coverage=false", "repair.enabled=true", "llm=openai",
                         f"llm.base_url={server.url}", "llm.api_key_env=null", "model=tiny", *extra)
    finally:
        server.close()
    (row,) = pq.read_table(run_dir / "repair_executions").to_pylist()
    return row, server


def test_a_repair_that_passes_gives_the_exact_rows(tmp_path):
    row, server = repair_run(tmp_path, fixer, "repair.max_feedback_tests=2")
    assert row["rejected_solution_ids"] == ids("HumanEval_63", 1, 2, 3, 4, 5)
    assert [r["solution_id"] for r in row["repairs"]] == row["rejected_solution_ids"]
    assert all(r["passed"] is True and r["detail"] == "" for r in row["repairs"])
    assert len(server.prompts) == 5 and all("Find the bug" in p for p in server.prompts)
    # the feedback: two failing trusted tests, with the value returned or the exception raised
    by_sid = {r["solution_id"]: r for r in row["repairs"]}
    two = by_sid["HumanEval_63/s1"]["prompt"][0]["content"]
    assert "- fibfib(2): expected 1, returned 2" in two and two.count("- fibfib(") == 2
    assert "def fibfib" in two and "if n == 2:\n        return 2" in two
    boom = by_sid["HumanEval_63/s5"]["prompt"][0]["content"]
    assert "returned runtime_error: ValueError: boom" in boom

    sft = [r for r in pq.read_table(tmp_path / "sft").to_pylist() if r["source"] == "repair"]
    dpo = [r for r in pq.read_table(tmp_path / "dpo").to_pylist() if r["source"] == "repair"]
    fixed = f"```python\n{extract_code(fixer('Find the bug', 0)).strip()}\n```"
    assert [r["step"] for r in sft] == ["repair", "solution"] + ["repair"] * 4   # one fixed program: one solution row
    for r, sid in zip([r for r in sft if r["step"] == "repair"], row["rejected_solution_ids"]):
        assert r["role"] == "solver" and r["prompt"] == by_sid[sid]["prompt"]
        assert r["completion"][0]["content"] == fixer("Find the bug", 0).strip()
    solution_row = next(r for r in sft if r["step"] == "solution")
    verified = next(r for r in pq.read_table(tmp_path / "sft").to_pylist()
                    if r["source"] == "verified" and r["step"] == "solution")
    assert solution_row["prompt"] == verified["prompt"] and solution_row["completion"][0]["content"] == fixed
    assert len(dpo) == 5 and all(r["step"] == "solution" and r["chosen"][0]["content"] == fixed for r in dpo)
    originals = {s["solution_id"]: s["code"] for s in row["solutions"]}
    assert [r["rejected"][0]["content"] for r in dpo] == \
        [f"```python\n{originals[sid].strip()}\n```" for sid in row["rejected_solution_ids"]]

    (stats,) = read_stats(tmp_path / "repair_executions")
    assert stats["metrics"]["passed"] == 5 and stats["metrics"]["problems_repaired"] == 1
    (sft_stats,) = read_stats(tmp_path / "sft")
    assert sft_stats["metrics"]["rows_per_source"] == {"verified": 9, "repair": 6}


def test_garbage_repairs_are_dropped_with_reasons_and_give_no_rows(tmp_path):
    row, _ = repair_run(tmp_path, garbage)
    reasons = {d["id"]: d["reason"] for d in read_rejected(tmp_path / "repair").to_pylist()}
    assert reasons == {"HumanEval_63/s1/r0": "repair_no_code_block", "HumanEval_63/s3/r0": "repair_unchanged"}
    failed = {d["id"]: d["reason"] for d in read_rejected(tmp_path / "repair_executions").to_pylist()}
    assert failed == {f"HumanEval_63/s{i}/r0": "repair_fails_tests" for i in (2, 4, 5)}
    assert [r["passed"] for r in row["repairs"]] == [False, False, False]
    assert all(r["detail"].startswith("wrong_answer") for r in row["repairs"])
    for stage in ("sft", "dpo"):
        assert not any(r["source"] == "repair" for r in pq.read_table(tmp_path / stage).to_pylist())


def test_repair_and_its_executions_never_share_a_worker():
    from pathlib import Path

    from factory.config import load_config
    from factory.pipeline import build_stage

    cfg = load_config(["repair.enabled=true", "llm.num_gpus=1"])
    llm, box = (build_stage(cfg, n, Path("/tmp/unused")).resources() for n in ("repair", "repair_executions"))
    assert llm == {"num_cpus": 1, "num_gpus": 1} and "sandbox" in box and "num_gpus" not in box


def test_training_rows_without_a_source_column_still_load(tmp_path):
    from factory import schema
    from factory.train import data

    old = [f for f in schema.SFT if f.name != "source"]
    row = {"role": "solver", "step": "solution", "problem_id": "p", "prompt": [{"role": "user", "content": "q"}],
           "completion": [{"role": "assistant", "content": "a"}]}
    (tmp_path / "sft").mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=pa.schema(old)), tmp_path / "sft" / "shard-00000.parquet")
    assert data.read_table(tmp_path / "sft", "sft").column("source").to_pylist() == ["verified"]


@pytest.mark.parametrize("override,message", [("repair.attempts=0", "repair.attempts"),
                                              ("verify.soft.votes=4", "verify.soft.votes")])
def test_bad_repair_and_soft_keys_name_the_field(override, message):
    from factory.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=message):
        load_config([override])
