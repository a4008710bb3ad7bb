"""Each generation stage alone on the in-process executor, reading and writing real Parquet shards."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from factory.config import load_config
from factory.executors.local import LocalExecutor
from factory.executors.shards import read_stats
from factory.pipeline import build_stage, write_seeds
from factory.stages.parse import parse_inputs, parse_signature
from factory.schema import REJECTED


@pytest.fixture()
def cfg(tmp_path, scripted_server):
    return load_config(["llm=openai", f"llm.base_url={scripted_server.url}", "llm.api_key_env=null",
                        "model=tiny", "executor=local", "num_problems=10", "shard_size=4",
                        f"run_dir={tmp_path}"])


def _run(cfg, name):
    run_dir = Path(cfg.run_dir)
    from factory.pipeline import INPUTS
    from factory.executors.shards import shard_names
    shards = shard_names(run_dir / INPUTS[name])
    LocalExecutor().run_chain([(build_stage(cfg, name, run_dir), run_dir / INPUTS[name], run_dir / name)], shards)
    rows = [r for s in shards for r in pq.read_table(run_dir / name / f"{s}.parquet").to_pylist()]
    rejected = [r for s in shards for r in pq.read_table(run_dir / "_meta" / name / "rejected" / f"{s}.parquet").to_pylist()]
    return rows, rejected


def test_stages_one_by_one(cfg):
    run_dir = Path(cfg.run_dir)
    write_seeds(cfg, run_dir)
    seeds = pq.read_table(run_dir / "seeds").to_pylist()
    assert len(seeds) == 10 and all(1 <= len(s["seed"].splitlines()) <= 15 for s in seeds)

    problems, dropped = _run(cfg, "problems")
    assert len(problems) + len(dropped) == 10 and problems
    assert {p["style"] for p in problems} <= {"mbpp", "apps", "codecontests"}

    sigs, dropped = _run(cfg, "signatures")
    garbage = [p for p in problems if p["problem"].startswith("GARBAGE")]
    # The garbage reply is dropped with its reason and the reply itself, not lost and not a crash.
    assert {d["reason"] for d in dropped} == ({"no_code_block"} if garbage else set())
    assert len(dropped) == len(garbage) and all(d["detail"] for d in dropped)
    assert all(s["entry_point"] and s["params"] for s in sigs)

    (run_dir / "dedup").mkdir()
    for f in (run_dir / "signatures").glob("shard-*.parquet"):   # dedup is tested on its own
        (run_dir / "dedup" / f.name).write_bytes(f.read_bytes())
    sols, dropped = _run(cfg, "solutions")
    assert all(len(r["solutions"]) == 3 for r in sols)        # 4 samples, one without code
    assert {d["reason"] for d in dropped} == {"solution_no_code_block"}
    assert all("/s" in d["id"] for d in dropped)

    tests, dropped = _run(cfg, "tests")
    assert len(tests) == len(sols) and not dropped
    for t in tests:
        # the scripted model's four inputs, then boundary inputs made from the first (generate.boundary_inputs)
        assert t["input_kinds"][0] == "general" and t["input_kinds"][4:] == ["boundary"] * (len(t["test_inputs"]) - 4)
        assert all(len(s) == 4 for s in t["output_samples"])        # K samples kept, one of them wrong
        assert all(share == 0.75 for share in t["vote_share"])
        assert "wrong" not in t["expected"]
    stats = read_stats(run_dir / "tests")
    assert sum(s["rows_in"] for s in stats) == len(sols) and all(s["seconds"] >= 0 for s in stats)
    assert pq.read_table(run_dir / "_meta" / "tests" / "rejected" / "shard-00000.parquet").schema.equals(REJECTED)


def test_parse_signature_rules():
    ok = parse_signature('import math\ndef area(r: float) -> float:\n    """Area for radius r."""\n    return 1\n')
    assert ok[0] == "area" and ok[1] == ["r"] and "return 1" not in ok[2]
    assert parse_signature("X = 1") == "not_one_function"
    assert parse_signature("def f(*args): ...") == "variadic_parameters"
    assert parse_signature("def f(): ...") == "no_parameters"
    assert parse_signature("def validate(self): ...") == "no_parameters"
    # repairable: helpers and statements beside it, an underscore, self, variadic and keyword-only parameters
    assert parse_signature("import os\nX = 1\ndef _a(self, x, *r, k=1, **kw):\n    return x\ndef b(y): ...") == \
        ("a", ["x"], "import os\n\ndef a(x):\n    ...")
    assert parse_signature("def a(): ...\ndef b(y, z=2): ...")[:2] == ("b", ["y", "z"])
    # a docstring that skips a parameter is fine: the problem statement says what it is
    assert parse_signature('def f(x, y):\n    """Uses x only."""')[:2] == ("f", ["x", "y"])
    assert parse_signature("def f(x:\n") == "signature_syntax_error"
    # a broken body under a good header keeps the header and its docstring
    broken = 'import re\ndef g(s: str) -> int:\n    """Count s."""\n    return len(s +\n'
    assert parse_signature(broken) == ("g", ["s"], 'import re\n\ndef g(s: str) -> int:\n    """Count s."""\n    ...')


def test_parse_inputs_checks_arity_and_literals():
    reply = "```python\n[1, 2]  # general\n[3]  # corner\n[open('x'), 1]\n[1, 2]\n[[], 0]  # difficult\n```"
    assert parse_inputs(reply, 2) == [("[1, 2]", "general"), ("[[], 0]", "difficult")]
    assert parse_inputs("no code", 1) == "no_valid_inputs"
