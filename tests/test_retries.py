"""`cluster.task_retries` bounds how often a shard is retried after its worker died.

A shard that kills every worker it lands on (an input that OOMs the sandbox, a prompt that crashes the engine)
must fail the run after `task_retries` retries, naming nothing lost; unbounded, Ray Data's default restarts the
actor and retries forever, and the run hangs. Real Ray, real sandbox, in a child process (so a hang is a
timeout, not a stuck test session) with its own Ray temp dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_faults import ROOT, _kill_run, ray_tmp  # noqa: F401 (a fixture)

CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from factory.config import load_config
    from factory.executors.local import LocalExecutor
    from factory.executors.ray_data import RayExecutor
    from factory.stages.executions import Executions
    from factory.stages.verification import Verification
    from tests.test_faults import _write_tests

    tmp, kind = Path(sys.argv[1]), sys.argv[2]
    cfg = load_config(["verify.coverage=false", "cluster.task_retries=1", "cluster.num_cpus=2"])
    shards = _write_tests(tmp / "tests", shards=1, per_shard=2)
    if kind == "actor":   # executions: a stage with setup runs in an actor pool
        stage, src = Executions(sandbox=cfg.sandbox), tmp / "tests"
    else:                 # verification: a plain task
        LocalExecutor().run_chain([(Executions(sandbox=cfg.sandbox), tmp / "tests", tmp / "executions")], shards)
        stage, src = Verification(verify=cfg.verify, sandbox=cfg.sandbox), tmp / "executions"
    cls = type(stage)

    def process(self, rows):   # every attempt dies like an OOM kill, after leaving a mark
        (tmp / f"attempt-{os.getpid()}").touch()
        os.kill(os.getpid(), signal.SIGKILL)
        yield from cls.process(self, rows)

    stage.__class__ = type(cls.__name__, (cls,), {"process": process})
    try:
        RayExecutor(cfg.cluster).run_chain([(stage, src, tmp / "out")], shards)
    except Exception as err:
        print("FAILED:", type(err).__name__)
        sys.exit(3)
    sys.exit(0)
""")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["actor", "task"])
def test_a_shard_that_kills_every_worker_fails_after_task_retries(tmp_path, ray_tmp, kind):
    run_tmp = ray_tmp()
    env = {**os.environ, "RAY_TMPDIR": str(run_tmp), "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), kind], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        _kill_run(proc, run_tmp)
        pytest.fail(f"{kind}: the run still retried the poisoned shard after 240 s (retries unbounded); "
                    f"attempts so far: {len(list(tmp_path.glob('attempt-*')))}")
    attempts = len(list(Path(tmp_path).glob("attempt-*")))
    assert proc.returncode == 3, out[-3000:]
    assert attempts == 2, f"{kind}: {attempts} attempts, expected 1 + task_retries=1\n{out[-2000:]}"
    assert not list((tmp_path / "out").glob("shard-*.parquet"))   # nothing written as if it had worked
