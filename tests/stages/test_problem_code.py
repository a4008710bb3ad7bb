"""The problems stage strips (or drops) solutions a model writes into its problem statements
(generate.problem_code), through the real openai backend against a scripted server and real Parquet shards."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from factory.config import load_config
from factory.executors.local import LocalExecutor
from factory.pipeline import build_stage, write_seeds
from factory.stages.problems import strip_solutions
from tests.scripted_model import ScriptedServer

# A SmolLM2-style statement: the task, then the answer it was told not to give, then an example call.
LEAKY = '''Write a function that returns the sum of the squares of the numbers 1 to n.

```python
def sum_of_squares(n):
    """Sum of k*k for k in 1..n."""
    total = 0
    for k in range(1, n + 1):
        total += k * k
    return total

print(sum_of_squares(3))
```
'''
STUB = '''```python
def sum_of_squares(n):
    """Sum of k*k for k in 1..n."""
    ...
print(sum_of_squares(3))
```'''


def test_strip_keeps_headers_docstrings_and_examples():
    text, removed = strip_solutions(LEAKY)
    assert STUB in text and "total" not in text and text.startswith("Write a function")
    assert len(removed) == 1 and "total += k * k" in removed[0]
    stub_only = "Task.\n```python\ndef f(x):\n    '''Doc.'''\n    pass\n```\n```\nnot python (\n```"
    assert strip_solutions(stub_only) == (stub_only, [])   # stubs and unparseable blocks stay as written


@pytest.fixture(scope="module")
def leaky_server():
    server = ScriptedServer(lambda prompt, index: LEAKY)
    yield server
    server.close()


def _problems(tmp_path: Path, url: str, policy: str):
    cfg = load_config(["llm=openai", f"llm.base_url={url}", "llm.api_key_env=null", "model=tiny", "executor=local",
                       "num_problems=2", f"run_dir={tmp_path}", f"generate.problem_code={policy}"])
    write_seeds(cfg, tmp_path)
    shards = sorted(p.stem for p in (tmp_path / "seeds").glob("shard-*.parquet"))
    LocalExecutor().run_chain([(build_stage(cfg, "problems", tmp_path), tmp_path / "seeds", tmp_path / "problems")],
                              shards)
    rows = [r for s in shards for r in pq.read_table(tmp_path / "problems" / f"{s}.parquet").to_pylist()]
    dropped = [r for s in shards
               for r in pq.read_table(tmp_path / "_meta" / "problems" / "rejected" / f"{s}.parquet").to_pylist()]
    return rows, dropped


def test_policies(tmp_path, leaky_server):
    rows, dropped = _problems(tmp_path / "strip", leaky_server.url, "strip")
    assert len(rows) == 2 and all(STUB in r["problem"] and "total" not in r["problem"] for r in rows)
    assert [d["reason"] for d in dropped] == ["solution_in_problem"] * 2   # counted, the removed code kept
    assert all(d["id"].endswith("/code0") and "total += k * k" in d["detail"] for d in dropped)
    rows, dropped = _problems(tmp_path / "drop", leaky_server.url, "drop")
    assert rows == [] and [d["reason"] for d in dropped] == ["solution_in_problem"] * 2
    rows, dropped = _problems(tmp_path / "keep", leaky_server.url, "keep")
    assert [r["problem"] for r in rows] == [LEAKY.strip()] * 2 and dropped == []
