"""Evaluation during `factory iterate`, without training: which checkpoints exist, that an evaluated one is not
evaluated again (no model, no sandbox is started), the tables and the paper's Figures 2 and 4 from fixed files."""

import json

import pytest

import pyarrow as pa
import pyarrow.parquet as pq

from factory.config import load_config
from factory.eval import iterations
from factory.report import plots
from factory.schema import VERDICT


def report(i, generator, sft=None, dpo=None):
    train = {"sft": {"model_out": sft} if sft else {"skipped": "no sft rows"},
             "dpo": {"model_out": dpo} if dpo else {"skipped": "no dpo rows"}}
    return {"iteration": i, "generator": generator, "train": train}


def test_checkpoints_follow_the_models_and_skipped_steps_carry_over(tmp_path):
    reports = [report(0, "preset:tiny", sft="/r/iter_0/train/sft/model", dpo="/r/iter_0/model"),
               report(1, "/r/iter_0/model", sft="/r/iter_1/train/sft/model")]   # iteration 1 had no DPO rows
    got = [(c["label"], c["model"]) for c in iterations.checkpoints(reports)]
    assert got == [("base", None), ("iter_0_sft", "/r/iter_0/train/sft/model"), ("iter_0_dpo", "/r/iter_0/model"),
                   ("iter_1_sft", "/r/iter_1/train/sft/model"), ("iter_1_dpo", "/r/iter_1/train/sft/model")]
    final = [(c["label"], c["model"]) for c in iterations.checkpoints(reports, "final")]
    assert final == [("base", None), ("iter_0_dpo", "/r/iter_0/model"), ("iter_1_dpo", "/r/iter_1/train/sft/model")]
    with pytest.raises(ValueError, match="eval.checkpoints"):
        iterations.checkpoints(reports, "some")


def _metrics(pass1, acc):
    return {"greedy_pass@1": {"value": pass1, "count": 4}, "output_accuracy": {"value": acc, "count": 8}}


def _outputs(predicted):
    return "".join(json.dumps({"task_id": "t", "inputs": f"[{n}]", "gold": "1", "predicted": p}) + "\n"
                   for n, p in enumerate(predicted))


def _executions(folder, statuses):
    folder.mkdir(parents=True)
    verdicts = [[{"solution_id": "s", "test_index": 0, "status": s, "detail": "", "output": None, "cpu_ms": 0.0}
                 for s in statuses]]
    pq.write_table(pa.table({"verdicts": pa.array(verdicts, pa.list_(VERDICT))}), folder / "shard-00000.parquet")


def test_evaluated_checkpoints_are_read_not_recomputed_and_tables_written(tmp_path):
    run = tmp_path / "run"
    # Training skipped in iteration 0 (the base model carries over), real checkpoints in iteration 1.
    reports = [report(0, "preset:tiny"), report(1, "preset:tiny", sft=str(run / "m1s"), dpo=str(run / "m1d"))]
    for label, (p, a), preds in (("base", (0.25, 0.5), ["1", "2"]), ("iter_1_sft", (0.5, 0.75), ["1", "1"]),
                                 ("iter_1_dpo", (0.75, 1.0), ["1", "1"])):
        (run / "eval" / label).mkdir(parents=True)
        (run / "eval" / label / "humaneval.json").write_text(json.dumps({"metrics": _metrics(p, a)}))
        (run / "eval" / label / "humaneval_outputs.jsonl").write_text(_outputs(preds))
    _executions(run / "iter_0" / "executions", ["pass", "wrong_answer", "wrong_answer", "timeout"])
    _executions(run / "iter_1" / "executions", ["pass", "pass", "runtime_error", "syntax_error"])
    # An unreachable endpoint: any attempt to evaluate again would fail this test.
    cfg = load_config([f"run_dir={run}", "model=tiny", "llm=openai", "llm.base_url=http://127.0.0.1:9/v1",
                       "llm.api_key_env=null", "wandb.enabled=false"])
    result = iterations.evaluate_run(cfg, run, reports)

    rows = {r["label"]: r for r in result["checkpoints"]}
    assert list(rows) == ["base", "iter_0_sft", "iter_0_dpo", "iter_1_sft", "iter_1_dpo"]
    assert rows["iter_0_sft"]["same_as"] == rows["iter_0_dpo"]["same_as"] == "base"
    assert rows["iter_1_dpo"]["metrics"]["humaneval"]["output_accuracy"]["value"] == 1.0
    assert not (run / "eval" / "iter_0_sft").exists()
    # Table 3 for consecutive final checkpoints with different weights: not base -> iter_0_dpo (the same).
    pairs = [(p["a"], p["b"], p["metrics"]["agreement"]["value"]) for p in result["agreement"]]
    assert pairs == [("iter_0_dpo", "iter_1_dpo", 0.5)]
    assert result["agreement"][0]["metrics"]["accuracy_a"]["value"] == 0.5
    # Figure 4's shares, read from each iteration's executions stage.
    assert result["execution_outcomes"] == {
        "iter_0": {"pass": 0.25, "assertion (wrong answer)": 0.5, "timeout": 0.25},
        "iter_1": {"pass": 0.5, "runtime error": 0.25, "other": 0.25}}
    saved = json.loads((run / "eval" / "iterations.json").read_text())
    assert saved["checkpoints"][3]["metrics"]["humaneval"]["greedy_pass@1"]["value"] == 0.5
    table = (run / "eval" / "iterations.md").read_text()
    assert "| iter_1_dpo | 0.750 | 1.000 |" in table and "| iter_0_dpo (= base) | 0.250 | 0.500 |" in table
    assert (run / "report" / "iterations.png").stat().st_size > 0
    assert (run / "report" / "execution_outcomes.png").stat().st_size > 0


def test_no_benchmarks_means_no_evaluation(tmp_path):
    cfg = load_config([f"run_dir={tmp_path}", "eval.benchmarks=[]"])
    assert iterations.evaluate_run(cfg, tmp_path, [report(0, "preset:tiny")]) is None
    assert not (tmp_path / "eval").exists()


def test_figure_plots_skip_empty_inputs(tmp_path):
    assert plots.plot_execution_outcomes([("iter_0", tmp_path / "none")], tmp_path / "x.png") == (None, {})
    assert plots.plot_iterations([], ["humaneval"], tmp_path / "y.png") is None
