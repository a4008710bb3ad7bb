"""`factory generate` end to end on local Ray: the public command form, resume, from_stage, the output layout."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from factory import schema
from factory.config import STAGES
from factory.executors.shards import read_rejected

SCHEMAS = {"problems": schema.PROBLEMS, "signatures": schema.SIGNATURES, "dedup": schema.DEDUP,
           "solutions": schema.SOLUTIONS, "tests": schema.TESTS, "executions": schema.EXECUTIONS,
           "verification": schema.VERIFICATION, "soft": schema.SOFT, "repair": schema.REPAIR,
           "repair_executions": schema.REPAIR_EXECUTIONS, "sft": schema.SFT, "dpo": schema.DPO}


def _markers(run_dir: Path) -> dict[str, float]:
    return {str(p.relative_to(run_dir)): p.stat().st_mtime for p in run_dir.glob("_meta/*/completions/*")}


def _generate(*overrides):
    out = subprocess.run([sys.executable, "-m", "factory.cli", "generate", *overrides], capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.slow
def test_generate_tiny_resume_and_from_stage(tmp_path):
    run_dir = tmp_path / "run"
    # The exact form that scripts outside the project call.
    _generate("model=tiny", "num_problems=8", f"run_dir={run_dir}")
    assert (run_dir / "config.yaml").exists()
    for stage in STAGES:
        assert (run_dir / "_meta" / stage / "SUCCESS").exists(), stage
        table = pq.read_table(run_dir / stage)          # the folder reads as one dataset
        assert table.schema.equals(SCHEMAS[stage], check_metadata=False), stage
        stats = json.loads((run_dir / "_meta" / stage / "stats" / "shard-00000.json").read_text())
        assert {"rows_in", "rows_out", "dropped", "seconds"} <= stats.keys()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["problems"]["rows_in"] == 8

    before = _markers(run_dir)
    _generate("model=tiny", "num_problems=8", f"run_dir={run_dir}")
    assert _markers(run_dir) == before                   # a rerun recomputes nothing

    _generate("model=tiny", "num_problems=8", f"run_dir={run_dir}", "from_stage=solutions")
    after = _markers(run_dir)
    for key, mtime in before.items():
        recomputed = key.split("/")[1] in STAGES[STAGES.index("solutions"):]
        assert (after[key] != mtime) == recomputed, key


@pytest.mark.slow
def test_generate_scripted_model_on_ray_yields_training_data(tmp_path, scripted_server):
    """A model that writes working code (scripted over the OpenAI API) gives agreement and SFT/DPO rows."""
    run_dir = tmp_path / "run"
    _generate("llm=openai", f"llm.base_url={scripted_server.url}", "llm.api_key_env=null", "model=tiny",
              "num_problems=12", "shard_size=4", f"run_dir={run_dir}")
    verification = pq.read_table(run_dir / "verification").to_pylist()
    assert any(v["trusted"] for v in verification)
    sft = pq.read_table(run_dir / "sft").to_pylist()
    dpo = pq.read_table(run_dir / "dpo").to_pylist()
    assert {r["role"] for r in sft} == {"solver", "verifier"}
    assert {r["role"] for r in dpo} == {"solver", "verifier"}
    dedup_dropped = read_rejected(run_dir / "dedup").to_pylist()
    # 12 seeds map onto 4 bank problems: the repeats are exact duplicates.
    assert dedup_dropped and {d["reason"] for d in dedup_dropped} <= {"exact_duplicate", "near_duplicate"}
