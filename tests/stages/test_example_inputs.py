"""The tests stage adds the problem statement's example inputs (generate.example_inputs), through the real openai
backend against the scripted model (tests/scripted_model.py) and real Parquet shards."""

from pathlib import Path

import pyarrow.parquet as pq

from factory.config import load_config
from factory.executors.local import LocalExecutor
from factory.executors.shards import mark_stage_done, write_shard
from factory.pipeline import build_stage
from factory.schema import SOLUTIONS
from factory.stages.base import Stage
from tests.scripted_model import BANK

SUM_EVEN = BANK[0]
# The scripted model proposes [[1, 2, 3, 4]], [[]], [[-2, -3, 10]], [[7]]; the statement shows two of its own
# calls, one of which the model also wrote.
PROBLEM = (SUM_EVEN["problem"] + "\n\nExamples:\n>>> sum_even([6, 1, 8])\n14\nsum_even([1, 2, 3, 4]) == 6\n"
           "sum_even(nums=[5, 5]) returns 0.")


class _Solutions(Stage):
    name, schema = "solutions", SOLUTIONS


def _tests_rows(tmp_path: Path, url: str, *overrides: str) -> dict:
    cfg = load_config(["llm=openai", f"llm.base_url={url}", "llm.api_key_env=null", "model=tiny",
                       "executor=local", f"run_dir={tmp_path}", *overrides])
    sig = f"def sum_even({SUM_EVEN['params']}) -> int:\n    ..."
    row = {"seed_id": "s0", "origin": "test", "seed": "", "problem_id": "p0", "style": "mbpp", "problem": PROBLEM,
           "signature": sig, "entry_point": "sum_even", "params": ["nums"],
           "solutions": [{"solution_id": "p0/s0", "code": f"{sig}\n{SUM_EVEN['good']}", "reply": ""}]}
    write_shard(_Solutions(), tmp_path / "solutions", "shard-00000", [row], [], 1, 0.0)
    mark_stage_done(tmp_path / "solutions", ["shard-00000"])
    LocalExecutor().run_chain([(build_stage(cfg, "tests", tmp_path), tmp_path / "solutions", tmp_path / "tests")],
                              ["shard-00000"])
    return pq.read_table(tmp_path / "tests" / "shard-00000.parquet").to_pylist()[0]


MODEL = ["[[1, 2, 3, 4]]", "[[]]", "[[-2, -3, 10]]", "[[7]]"]


def test_example_inputs_join_after_the_models_outside_its_cap(tmp_path, scripted_server):
    row = _tests_rows(tmp_path, scripted_server.url, "generate.example_inputs=8", "generate.num_inputs=3",
                      "generate.boundary_inputs=0")
    # the model's first three inputs (its cap), then the statement's inputs it did not already write
    assert row["test_inputs"] == MODEL[:3] + ["[[6, 1, 8]]", "[[5, 5]]"]
    assert row["input_kinds"][3:] == ["example", "example"]
    # outputs are sampled for them like any input; the statement's stated outputs are not copied in as labels
    assert len(row["output_samples"]) == 5 and row["expected"][3:] == ["14", "0"]   # the scripted model's vote


def test_example_inputs_off_and_capped(tmp_path, scripted_server):
    off = _tests_rows(tmp_path / "off", scripted_server.url, "generate.example_inputs=0", "generate.boundary_inputs=0")
    assert off["test_inputs"] == MODEL and "example" not in off["input_kinds"]
    one = _tests_rows(tmp_path / "one", scripted_server.url, "generate.example_inputs=1", "generate.boundary_inputs=0")
    # the cap counts the statement's examples before the ones the model already has are set aside
    assert one["test_inputs"] == MODEL + ["[[6, 1, 8]]"]


def test_boundary_inputs_come_last_made_from_the_first_input(tmp_path, scripted_server):
    row = _tests_rows(tmp_path, scripted_server.url, "generate.example_inputs=8", "generate.num_inputs=3",
                      "generate.boundary_inputs=8")
    # the first input [1, 2, 3, 4] at its type's edges: [] (the model's second input already) and [1]
    assert row["test_inputs"] == MODEL[:3] + ["[[6, 1, 8]]", "[[5, 5]]", "[[1]]"]
    assert row["input_kinds"][5:] == ["boundary"] and len(row["output_samples"]) == 6


def test_boundary_outputs_off_samples_nothing_for_them_and_changes_no_other_sample(tmp_path, scripted_server):
    keys = ["generate.example_inputs=8", "generate.num_inputs=3", "generate.boundary_inputs=8"]
    on = _tests_rows(tmp_path / "on", scripted_server.url, *keys)
    off = _tests_rows(tmp_path / "off", scripted_server.url, *keys, "generate.boundary_outputs=false")
    assert off["test_inputs"] == on["test_inputs"] and off["input_kinds"][-1] == "boundary"
    assert off["output_samples"][-1] == [] and off["expected"][-1] is None and on["output_samples"][-1]
    assert off["output_samples"][:-1] == on["output_samples"][:-1]
