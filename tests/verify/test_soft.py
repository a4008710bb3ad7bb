"""Soft verification: the score band, reading the verdict, and the soft stage end to end on real HumanEval code.

The stage test runs executions -> verification -> soft -> ... -> sft, dpo in-process through the real sandbox,
with judgements from a scripted model behind the OpenAI API (tests/scripted_model.py) and the real openai backend.
Problems (scores on the labelled suite, tests/verify/humaneval.py):
  fib_flipped   fibfib whose 7th label is wrong: canonical s0 6/7, two_is_two s1 1/7, no_third_term s2 2/7,
                zero_base s3 1/7, cut_large s4 5/7 -> untrusted under strict. Band [0.5, 0.99]: s0 and s4.
  hce_bad       has_close_elements with only always_true s0 and self_pairs s1 (4/7 each): band, judged wrong.
  HumanEval_0   canonical and less_equal pass all: trusted by the rule, never judged.
The judge says `correct` to the canonical fibfib in 2 of 3 samples, to cut_large in 1 of 3, to the rest never.
"""

from __future__ import annotations

import re

import pyarrow.parquet as pq
import pytest

from factory.executors.shards import read_rejected, read_stats
from factory.report.stats import shard_records, source_table
from factory.verify.soft import in_band, parse_judgement
from tests.scripted_model import ScriptedServer
from tests.stages.test_verification import FIB, HCE, ids, run_verification
from tests.verify import humaneval as he


def test_band_is_inclusive():
    assert in_band(["a", "b", "c", "d"], [0.5, 0.99, 1.0, 0.2], 0.5, 0.99) == ["a", "b"]


def test_parse_judgement_takes_the_last_verdict():
    assert parse_judgement("Looks fine.\nVerdict: correct") is True
    assert parse_judgement("Verdict: correct?\nOn reflection...\n**Verdict:** incorrect") is False
    assert parse_judgement("VERDICT: Correct") is True
    assert parse_judgement("I think it is correct.") is None
    assert parse_judgement("") is None


def judge(prompt: str, index: int) -> str:
    if "Verdict: correct" not in prompt:
        return "not a judgement prompt"
    if "fibfib(n - 3)" in prompt and "n > 11" not in prompt:     # the canonical fibfib
        yes = index % 3 != 2
    elif "n > 11" in prompt:                                      # cut_large
        yes = index % 3 == 0
    else:
        yes = False
    return "The failing tests look wrong.\nVerdict: correct" if yes else "It breaks.\nVerdict: incorrect"


@pytest.fixture(scope="module")
def server():
    s = ScriptedServer(judge)
    yield s
    s.close()


def soft_run(run_dir, server, votes: int):
    rows = [he.tests_row(*FIB, flip=[6], pid="fib_flipped"), he.tests_row(*HCE),
            he.tests_row("HumanEval/0", ["always_true", "self_pairs"], pid="hce_bad")]
    run_verification(run_dir, rows, "verify.coverage=false", "verify.soft.enabled=true", "verify.soft.low=0.5",
                     "verify.soft.samples=3", f"verify.soft.votes={votes}", "llm=openai",
                     f"llm.base_url={server.url}", "llm.api_key_env=null", "model=tiny")
    return {r["problem_id"]: r for r in pq.read_table(run_dir / "soft").to_pylist()}


def test_soft_judgements_choose_exact_sets_and_label_every_row(tmp_path, server):
    out = soft_run(tmp_path, server, votes=2)
    fib, hce, bad = out["fib_flipped"], out["HumanEval_0"], out["hce_bad"]
    # verification itself left fib_flipped untrusted; the soft stage brought it back on s0 alone
    ver = {r["problem_id"]: r for r in pq.read_table(tmp_path / "verification").to_pylist()}
    assert not ver["fib_flipped"]["trusted"] and "soft_judgements" not in ver["fib_flipped"]
    assert fib["trusted"] and fib["source"] == "soft" and fib["reason"] == ""
    assert [j["solution_id"] for j in fib["soft_judgements"]] == ids("fib_flipped", 0, 0, 0, 4, 4, 4)
    assert [j["correct"] for j in fib["soft_judgements"]] == [True, True, False, True, False, False]
    assert fib["chosen_solution_ids"] == ids("fib_flipped", 0)
    # the test s0 fails (the wrong label) leaves the suite; every other solution fails the rest: rejected
    assert fib["labels"][6] is None and fib["label_reasons"][6] == "soft_dropped"
    assert fib["test_indices"] == [0, 1, 2, 3, 4, 5]
    assert fib["rejected_solution_ids"] == ids("fib_flipped", 1, 2, 3, 4)
    assert hce["source"] == "verified" and hce["soft_judgements"] == []
    assert not bad["trusted"] and bad["source"] is None and len(bad["soft_judgements"]) == 6
    assert not any(j["correct"] for j in bad["soft_judgements"])

    sft = pq.read_table(tmp_path / "sft").to_pylist()
    dpo = pq.read_table(tmp_path / "dpo").to_pylist()
    by_source = lambda rows, pid: {r["source"] for r in rows if r["problem_id"] == pid}  # noqa: E731
    assert by_source(sft, "fib_flipped") == {"soft"} and by_source(dpo, "fib_flipped") == {"soft"}
    assert by_source(sft, "HumanEval_0") == {"verified"} and by_source(dpo, "HumanEval_0") == {"verified"}
    assert not any(r["problem_id"] == "hce_bad" for r in sft + dpo)
    fib_sft = [r for r in sft if r["problem_id"] == "fib_flipped"]
    assert sorted(r["step"] for r in fib_sft) == ["solution", "test_inputs"] + ["test_output"] * 6
    assert next(r for r in fib_sft if r["step"] == "solution")["completion"][0]["content"] == \
        fib["solutions"][0]["reply"]
    # the dropped test (n=14) is no verifier data
    assert not any("fibfib(14)" in r["prompt"][0]["content"] for r in fib_sft + dpo if r["role"] == "verifier")
    assert sum(r["problem_id"] == "fib_flipped" and r["role"] == "solver" for r in dpo) == 4

    (stats,) = read_stats(tmp_path / "soft")
    assert stats["metrics"]["soft_judged"] == 2 and stats["metrics"]["soft_trusted"] == 1
    assert stats["metrics"]["judgements"] == {"correct": 3, "incorrect": 9}
    assert stats["dropped"] == {"soft_judged_incorrect": 1, "soft_dropped": 1}
    (sft_stats,) = read_stats(tmp_path / "sft")
    assert sft_stats["metrics"]["problems_per_source"] == {"soft": 1, "verified": 1}
    # `factory stats` shows them: problems and rows per source, what the soft stage did
    text = source_table(shard_records(tmp_path, progress=False))
    n_sft, n_dpo = len(fib_sft), sum(r["problem_id"] == "fib_flipped" for r in dpo)
    assert re.search(rf"^soft\s+1\s+{n_sft}\s+{n_dpo}$", text, re.M), text
    assert "soft: 2 problems judged, 1 trusted on 1 solutions" in text


def test_unanimous_votes_keep_the_problem_untrusted(tmp_path, server):
    out = soft_run(tmp_path, server, votes=3)
    assert not out["fib_flipped"]["trusted"] and out["fib_flipped"]["source"] is None
    assert out["fib_flipped"]["labels"][6] is not None            # nothing dropped when nothing was chosen
    reasons = [r["reason"] for r in read_rejected(tmp_path / "soft").to_pylist()]
    assert sorted(reasons) == ["soft_judged_incorrect", "soft_judged_incorrect"]
    sft = pq.read_table(tmp_path / "sft").to_pylist()
    assert {r["source"] for r in sft} == {"verified"}


def test_verification_asks_for_no_gpu_and_soft_for_no_sandbox():
    from pathlib import Path

    from factory.config import load_config
    from factory.pipeline import build_stage

    cfg = load_config(["verify.soft.enabled=true", "llm.num_gpus=1"])
    verification, soft = (build_stage(cfg, n, Path("/tmp/unused")) for n in ("verification", "soft"))
    assert "num_gpus" not in verification.resources() and "sandbox" in verification.resources()
    assert soft.resources() == {"num_cpus": 1, "num_gpus": 1}
