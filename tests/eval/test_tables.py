"""The paper's tables from fixed rows: Table 3 (two models on the same gold inputs), Table 1 and Table 2 text,
and `factory evaluate eval.compare=[A,B]` on two saved evaluation folders. Numbers worked out by hand."""

import json

import pytest
from omegaconf import OmegaConf

from factory.cli import main
from factory.eval import tables
from factory.eval.benchmarks import load_benchmark
from factory.eval.testgen import Setting

DATA = "tests/eval/data/mbpp-sample.jsonl"


def gold_rows():
    """A checkpoint whose tests are the gold tests: it predicts every gold output."""
    return [{"task_id": p.task_id, "inputs": i, "gold": g, "predicted": g, "correct": True}
            for p in load_benchmark("mbpp", DATA) for i, g in p.io_tests]


def other_rows():
    """Same inputs; `14.0` for `14` (the same answer), one wrong answer, one unparsed, `False` for `0`."""
    rows = [dict(r) for r in gold_rows()]
    rows[0]["predicted"] = "14.0"     # sum_squares([1, 2, 3]): still right, still agrees
    rows[4]["predicted"] = "0"        # largest([-5, -1, -7]) is -1: wrong
    rows[5]["predicted"] = None       # largest([4]): nothing parsed
    rows[7]["predicted"] = "False"    # count_vowels('xyz') is 0: bool is not int
    return rows


def test_agreement_of_a_gold_checkpoint_with_itself_and_another():
    same = tables.agreement(gold_rows(), gold_rows())
    assert {k: m["value"] for k, m in same.items()} == {
        "accuracy_a": 1.0, "accuracy_b": 1.0, "agreement": 1.0, "ensemble_accuracy": 1.0, "ensemble_kept": 1.0}
    m = tables.agreement(gold_rows(), other_rows())
    assert m["accuracy_a"] == {"value": 1.0, "count": 9}
    assert m["accuracy_b"] == {"value": pytest.approx(6 / 9), "count": 9}
    assert m["agreement"] == {"value": pytest.approx(6 / 9), "count": 9}
    assert m["ensemble_accuracy"] == {"value": 1.0, "count": 6}
    # Two wrong models agreeing on a wrong answer: the ensemble keeps it and is wrong there.
    wrong = [dict(r, predicted="0") for r in gold_rows()]
    m = tables.agreement(wrong, wrong)
    assert m["agreement"]["value"] == 1.0
    assert m["ensemble_accuracy"] == {"value": pytest.approx(2 / 9), "count": 9}   # sum_squares([]), 'xyz'
    # Only inputs both were asked about count.
    assert tables.agreement(gold_rows()[:4], gold_rows())["agreement"]["count"] == 4
    assert tables.agreement([], gold_rows())["agreement"] == {"value": None, "count": 0}


def test_settings_are_the_cross_product():
    cfg = OmegaConf.create({"cot": [True, False], "votes": [1, 5]})
    assert tables.settings(cfg) == [Setting(True, 1), Setting(True, 5), Setting(False, 1), Setting(False, 5)]
    assert tables.settings(OmegaConf.create({"cot": False, "votes": 3})) == [Setting(False, 3)]


def test_table1_text():
    rows = [{"label": "base", "metrics": {"humaneval": {"greedy_pass@1": {"value": 0.25, "count": 4},
                                                        "output_accuracy": {"value": None, "count": 0}}}},
            {"label": "iter_0_sft", "same_as": "base", "metrics": {}}]
    text = tables.table1(rows, ["humaneval"], {"humaneval": None})
    assert "| checkpoint | humaneval code pass@1 | humaneval test output acc |" in text
    assert "| base | 0.250 | n/a | n/a | n/a | n/a |" in text
    assert "| iter_0_sft (= base) | n/a |" in text
    assert "mbpp code prompt: mbpp_prompt=three_shot" in tables.table1(rows, ["mbpp"],
                                                                       {"mbpp": "mbpp_prompt=three_shot"})


def test_compare_command_on_two_evaluation_folders(tmp_path, capsys):
    for name, rows in (("a", gold_rows()), ("b", other_rows())):
        (tmp_path / name).mkdir()
        (tmp_path / name / "mbpp_outputs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = tmp_path / "run"
    assert main(["evaluate", "benchmark=mbpp", f"eval.data_path={DATA}", f"run_dir={run}", "wandb.enabled=false",
                 f"eval.compare=[{tmp_path / 'a'},{tmp_path / 'b'}]"]) == 0
    [row] = json.loads((run / "eval" / "mbpp_compare.json").read_text())
    assert row["metrics"]["accuracy_a"] == {"value": 1.0, "count": 9}
    assert row["metrics"]["agreement"]["value"] == pytest.approx(6 / 9)
    assert "| 1.000 | 0.667 | 0.667 | 1.000 | 0.667 | 9 |" in capsys.readouterr().out
    # eval.limit applies to saved files too: the first problem's 3 inputs only.
    assert main(["evaluate", "benchmark=mbpp", f"eval.data_path={DATA}", f"run_dir={run}", "eval.limit=1",
                 f"eval.compare=[{tmp_path / 'a'},{tmp_path / 'b'}]"]) == 0
    [row] = json.loads((run / "eval" / "mbpp_compare.json").read_text())
    assert row["metrics"]["agreement"] == {"value": 1.0, "count": 3}


def test_bad_testgen_settings_are_named(tmp_path, capsys):
    for override, field in (("eval.testgen.votes=0", "eval.testgen.votes=0"),
                            ("eval.testgen.cot=[1]", "eval.testgen.cot"),
                            ("eval.mbpp_prompt=zero", "eval.mbpp_prompt='zero'"),
                            ("eval.compare=[a]", "eval.compare")):
        assert main(["evaluate", "benchmark=humaneval", "model=tiny", f"run_dir={tmp_path}", override]) != 0
        assert field in capsys.readouterr().err
