"""The verification, sft and dpo stages on real HumanEval code, through the real sandbox and executions stage.

Scores are known by construction (tests/verify/humaneval.py): on HumanEval/63 (fibfib, 7 tests) the canonical
solution passes 7, `cut_large` 5, `no_third_term` 2, `two_is_two` and `zero_base` 1 each; on HumanEval/0
(has_close_elements, 7 tests) the canonical solution and `less_equal` pass all, `always_true` and `self_pairs`
pass the 4 tests whose answer is True.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from factory.config import load_config
from factory.executors.shards import mark_stage_done, write_shard
from factory.schema import TESTS
from factory.stages.base import Stage
from tests.verify import humaneval as he

FIB = ["HumanEval/63", [None, "two_is_two", "no_third_term", "zero_base", "cut_large"]]
HCE = ["HumanEval/0", [None, "less_equal", "always_true", "self_pairs"]]


class _Tests(Stage):
    name, schema = "tests", TESTS


def run_verification(run_dir: Path, rows: list[dict], *overrides: str) -> dict[str, dict]:
    """Write TESTS rows, run executions -> verification -> sft -> dpo in-process, return verification rows."""
    from factory import pipeline

    cfg = load_config(["executor=local", f"run_dir={run_dir}", *overrides])
    write_shard(_Tests(), run_dir / "tests", "shard-00000", rows, [], len(rows), 0.0)
    mark_stage_done(run_dir / "tests", ["shard-00000"])
    pipeline.run(cfg, start="executions")
    return {r["problem_id"]: r for r in pq.read_table(run_dir / "verification").to_pylist()}


def ids(pid: str, *nums: int) -> list[str]:
    return [f"{pid}/s{n}" for n in nums]


@pytest.fixture(scope="module")
def strict_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("strict")
    rows = [he.tests_row(*FIB), he.tests_row(*HCE), he.tests_row(*FIB, flip=[6], pid="fib_flipped")]
    return run_dir, run_verification(run_dir, rows)


def test_strict_rule_picks_exact_sets(strict_run):
    _, out = strict_run
    fib, hce, flipped = out["HumanEval_63"], out["HumanEval_0"], out["fib_flipped"]
    assert fib["trusted"] and fib["rule"] == "strict" and fib["reason"] == ""
    assert fib["scores"] == pytest.approx([1, 1 / 7, 2 / 7, 1 / 7, 5 / 7])
    assert fib["chosen_solution_ids"] == ids("HumanEval_63", 0)
    assert fib["rejected_solution_ids"] == ids("HumanEval_63", 1, 2, 3, 4)
    assert hce["chosen_solution_ids"] == ids("HumanEval_0", 0, 1)
    assert hce["rejected_solution_ids"] == ids("HumanEval_0", 2, 3)
    # a wrong majority on one input: nobody passes everything, so the suite is not trusted
    assert not flipped["trusted"] and flipped["reason"] == "no_solution_passes"
    assert flipped["chosen_solution_ids"] == [] and flipped["tests"] == []


def test_selected_suite_and_coverage(strict_run):
    _, out = strict_run
    fib = out["HumanEval_63"]
    assert sorted(fib["test_indices"]) == list(range(7))        # k=8 > 7 candidates: all kept, greedy order
    assert len(fib["tests"]) == 7 and fib["coverage"] == 1.0
    assert [t["expected"] for t in fib["tests"]] == [fib["expected"][i] for i in fib["test_indices"]]


def test_sft_and_dpo_rows_for_both_roles(strict_run):
    from factory.prompts import chat
    from factory.stages.parse import call_text, parse_inputs

    run_dir, out = strict_run
    sft = pq.read_table(run_dir / "sft").to_pylist()
    dpo = pq.read_table(run_dir / "dpo").to_pylist()
    count = lambda rows, pid, role: sum(r["problem_id"] == pid and r["role"] == role for r in rows)  # noqa: E731
    assert count(sft, "HumanEval_63", "solver") == 1 and count(sft, "HumanEval_0", "solver") == 2
    assert count(sft, "HumanEval_63", "verifier") == 8   # 7 test_output rows and 1 test_inputs row
    fib = out["HumanEval_63"]
    inputs_row = next(r for r in sft if r["problem_id"] == "HumanEval_63" and r["step"] == "test_inputs")
    # the inputs of the trusted suite, written as the test_inputs prompt asks (one call per line, kind comment)
    lines = inputs_row["completion"][0]["content"].strip("`\npython").splitlines()
    assert [line.split("  # ")[0] for line in lines] == [call_text("fibfib", fib["test_inputs"][i])
                                                          for i in fib["test_indices"]]
    assert parse_inputs(inputs_row["completion"][0]["content"], 1, "fibfib", ["n"]) == \
        [(fib["test_inputs"][i], fib["input_kinds"][i]) for i in fib["test_indices"]]
    assert {r["step"] for r in sft} == {"solution", "test_inputs", "test_output"}
    assert count(dpo, "HumanEval_63", "solver") == 4 and count(dpo, "HumanEval_63", "verifier") == 7
    assert not any(r["problem_id"] == "fib_flipped" for r in sft + dpo)
    i = fib["test_indices"][0]
    verifier = next(r for r in sft if r["problem_id"] == "HumanEval_63" and r["step"] == "test_output")
    # the verifier prompt is exactly the one the tests stage sampled outputs with
    assert verifier["prompt"] == chat("test_output", problem=fib["problem"], signature=fib["signature"],
                                      call=call_text("fibfib", fib["test_inputs"][i]))
    assert verifier["completion"][0]["content"].endswith(f"Output: {fib['expected'][i]}")
    pair = next(r for r in dpo if r["problem_id"] == "HumanEval_63" and r["role"] == "solver")
    assert pair["chosen"][0]["content"] == fib["solutions"][0]["reply"]
    assert pair["rejected"][0]["content"] == fib["solutions"][1]["reply"]


@pytest.mark.parametrize("strategy,rejected", [("lowest", 1), ("median", 3)])
def test_relaxed_rule_strategies(tmp_path, strategy, rejected):
    rows = [he.tests_row(*FIB), he.tests_row(*FIB, flip=[6], pid="fib_flipped")]
    out = run_verification(tmp_path, rows, "verify.rule=relaxed", "verify.tau=0.7", f"verify.rejected={strategy}",
                           "verify.coverage=false")
    fib, flipped = out["HumanEval_63"], out["fib_flipped"]
    assert fib["rule"] == f"relaxed(tau=0.7,rejected={strategy})"
    assert fib["chosen_solution_ids"] == ids("HumanEval_63", 0, 4)
    # below 0.7: s1 (1/7), s2 (2/7), s3 (1/7); lowest = first of the 1/7s, median of (s1, s3, s2) = s3
    assert fib["rejected_solution_ids"] == ids("HumanEval_63", rejected)
    # relaxed keeps the flipped problem (canonical 6/7, cut_large 5/7 >= 0.7); its suite is the tests the best
    # solution passes
    assert flipped["trusted"] and flipped["chosen_solution_ids"] == ids("fib_flipped", 0, 4)
    assert 6 not in flipped["test_indices"] and flipped["coverage"] is None


def test_constant_function_suite_is_untrusted(tmp_path):
    # flip every False answer of has_close_elements to True: `always_true` passes all, the suite is all True
    row = he.tests_row("HumanEval/0", [None, "always_true"], flip=[1, 3, 6])
    out = run_verification(tmp_path, [row], "verify.coverage=false")["HumanEval_0"]
    assert out["chosen_solution_ids"] == ids("HumanEval_0", 1)
    assert not out["trusted"] and out["reason"] == "constant_function_suite"


def test_iteration_ensemble_demotes_solutions_failing_the_earlier_suite(strict_run, tmp_path):
    earlier, _ = strict_run
    # iteration 2 asks only n = 2, 1, 5, 8, 10: `cut_large` (wrong from n = 12) passes this suite alone
    row = he.tests_row(*FIB, keep=[0, 1, 2, 3, 4])
    alone = run_verification(tmp_path / "alone", [row], "verify.coverage=false")["HumanEval_63"]
    assert alone["chosen_solution_ids"] == ids("HumanEval_63", 0, 4)
    both = run_verification(tmp_path / "both", [row], "verify.coverage=false",
                            f"verify.ensemble=[{earlier / 'verification'}]")["HumanEval_63"]
    assert both["trusted"] and both["chosen_solution_ids"] == ids("HumanEval_63", 0)
    assert both["rejected_solution_ids"] == ids("HumanEval_63", 1, 2, 3, 4)


def test_shard_metrics(strict_run):
    from factory.executors.shards import read_stats

    run_dir, _ = strict_run
    (stats,) = read_stats(run_dir / "verification")
    m = stats["metrics"]
    assert m["problems"] == 3 and m["trusted"] == 2 and m["agreement"] == round(2 / 3, 4)
    assert m["untrusted_reasons"] == {"no_solution_passes": 1}
    assert m["pass_rate_histogram"]["1"] == 3                   # fib s0, hce s0 and s1
    assert m["error_types"]["wrong_answer"] > 0
    assert m["pairs"]["sft_solver"] == 3 and m["pairs"]["dpo_solver"] == 6
