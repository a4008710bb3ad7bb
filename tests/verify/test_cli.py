"""`factory verify INPUT.jsonl run_dir=DIR`: bring-your-own candidates, end to end, and bad input errors."""

from __future__ import annotations

import json
import subprocess
import sys

import datasets
import pyarrow.parquet as pq
import pytest

from factory.cli import main as factory
from tests.verify import humaneval as he


def user_row(task_id: str, variants, flip=()) -> dict:
    """The public input format, built from HumanEval: solutions as sources, sampled outputs per input."""
    row = he.tests_row(task_id, variants, flip=flip)
    return {k: row[k] for k in ("problem_id", "problem", "signature", "entry_point", "test_inputs", "output_samples")} | {
        "solutions": [s["code"] for s in row["solutions"]]}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_verify_jsonl_relaxed_end_to_end(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", [user_row("HumanEval/63", [None, "two_is_two", "no_third_term", "cut_large"]),
                                              user_row("HumanEval/0", [None, "always_true"])])
    run = tmp_path / "run"
    assert factory(["verify", str(src), f"run_dir={run}", "executor=local", "verify.tau=0.7",
                    "verify.rejected=lowest"]) == 0
    printed = capsys.readouterr().out
    assert "verify.rule=relaxed" in printed and "2/2 problems trusted" in printed
    rows = {r["problem_id"]: r for r in pq.read_table(run / "verification").to_pylist()}
    assert rows["HumanEval_63"]["chosen_solution_ids"] == ["HumanEval_63/s0", "HumanEval_63/s3"]
    assert rows["HumanEval_63"]["rejected_solution_ids"] == ["HumanEval_63/s1"]
    sft = datasets.load_dataset("parquet", data_files=str(run / "sft" / "*.parquet"), split="train")
    dpo = datasets.load_dataset("parquet", data_files=str(run / "dpo" / "*.parquet"), split="train")
    assert set(sft["role"]) == {"solver", "verifier"} and set(dpo["role"]) == {"solver", "verifier"}
    # user candidates have no reply: the solver completion is the code in a block, as the parsers expect
    solver = next(r for r in sft if r["role"] == "solver")
    assert solver["completion"][0]["content"].startswith("```python\n")
    # a rerun on the same file resumes; another file into the same run_dir is refused without touching it
    assert factory(["verify", str(src), f"run_dir={run}", "executor=local", "verify.tau=0.7",
                    "verify.rejected=lowest"]) == 0
    other = write_jsonl(tmp_path / "other.jsonl", [user_row("HumanEval/0", [None])])
    assert factory(["verify", str(other), f"run_dir={run}", "executor=local"]) == 2
    assert "another input" in capsys.readouterr().err
    assert pq.read_table(run / "verification").num_rows == 2


@pytest.mark.parametrize("mutate,message", [
    (lambda r: r.pop("entry_point"), "in.jsonl:2: missing field 'entry_point'"),
    (lambda r: r.update(test_inputs=["not a list"] + r["test_inputs"][1:]), "in.jsonl:2: test_inputs[0]="),
    (lambda r: r.update(output_samples=r["output_samples"][:-1]), "in.jsonl:2: field 'output_samples' has"),
    (lambda r: r.update(solutions="def f(): pass"), "in.jsonl:2: field 'solutions' must be a list"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, capsys, mutate, message):
    good, bad = user_row("HumanEval/0", [None]), user_row("HumanEval/63", [None])
    mutate(bad)
    src = write_jsonl(tmp_path / "in.jsonl", [good, bad])
    assert factory(["verify", str(src), f"run_dir={tmp_path / 'run'}", "executor=local"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "tests").exists()


def test_bad_json_and_missing_file(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(user_row("HumanEval/0", [None])) + "\n{oops\n")
    assert factory(["verify", str(src), f"run_dir={tmp_path / 'run'}", "executor=local"]) == 2
    assert "in.jsonl:2: not valid JSON" in capsys.readouterr().err
    assert factory(["verify", str(tmp_path / "nope.jsonl"), f"run_dir={tmp_path / 'run'}"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_parquet_input(tmp_path):
    import pyarrow as pa

    src = tmp_path / "in.parquet"
    row = user_row("HumanEval/0", [None, "self_pairs"])
    row["output_samples"][1] = ["no idea", "False?", ""]           # input 1 never parses: it leaves the suite
    pq.write_table(pa.Table.from_pylist([row]), src)
    assert factory(["verify", str(src), f"run_dir={tmp_path / 'run'}", "executor=local"]) == 0
    out = pq.read_table(tmp_path / "run" / "verification").to_pylist()[0]
    assert out["chosen_solution_ids"] == ["HumanEval_0/s0"] and out["rejected_solution_ids"] == ["HumanEval_0/s1"]
    assert out["expected"][1] is None and 1 not in out["test_indices"]
    dropped = pq.read_table(tmp_path / "run" / "_meta" / "verification" / "rejected").to_pylist()
    assert [(d["id"], d["reason"]) for d in dropped] == [("HumanEval_0/test1", "no_parseable_output")]


@pytest.mark.slow
def test_the_public_command_on_ray(tmp_path):
    """Exactly the form outside scripts call (default executor: local Ray)."""
    src = write_jsonl(tmp_path / "in.jsonl", [user_row("HumanEval/0", [None, "always_true"])])
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "verify", str(src), f"run_dir={tmp_path / 'run'}",
                           "verify.rejected=median"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1/1 problems trusted" in proc.stdout
    assert pq.read_table(tmp_path / "run" / "dpo").num_rows > 0
