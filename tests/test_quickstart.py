"""The README's quickstart command, on the real offline default model (SmolLM2-135M-Instruct), kept short."""

import json
import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from factory.config import STAGES

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quickstart_script_runs_smollm2(tmp_path):
    run_dir = tmp_path / "quick"
    # Fewer and shorter samples than the README's run: the same code path in a few minutes on 2 cores.
    short = [f"generate.{role}.max_tokens=96" for role in ("problem", "signature", "solution", "test_inputs",
                                                           "test_output")]
    out = subprocess.run(["bash", str(ROOT / "deploy/local.sh"), "num_problems=2", "generate.num_solutions=2",
                          "generate.num_outputs=2", "executor=local", f"run_dir={run_dir}", *short],
                         env={**os.environ, "FACTORY_SKIP_INSTALL": "1"}, capture_output=True, text=True,
                         timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    assert all((run_dir / "_meta" / s / "SUCCESS").exists() for s in STAGES)
    config = (run_dir / "config.yaml").read_text()
    assert "smollm2-135m" in config and "num_problems: 2" in config
    problems = pq.read_table(run_dir / "problems").to_pylist()
    # A real instruction-tuned model writes real text; the tiny random model would not.
    assert problems and all(len(p["problem"].split()) >= 8 for p in problems)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["problems"]["rows_in"] == 2
