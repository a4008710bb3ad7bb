"""The sandbox's startup check (factory/sandbox/selfcheck.py) against real sandboxes: the isolated one passes, one
that runs solutions unisolated is refused, and bubblewrap's own failure messages map to the missing capability."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from factory.config import load_config
from factory.sandbox import make_sandbox
from factory.sandbox.selfcheck import check, hint
from factory.stages.executions import Executions

ROOT = Path(__file__).resolve().parents[2]


def test_the_isolated_sandbox_passes_and_the_stage_runs_the_check():
    cfg = load_config([]).sandbox
    with make_sandbox(cfg) as box:
        assert check(box) == ["selfcheck/good: pass (want pass)", "selfcheck/wrong: wrong_answer (want wrong_answer)",
                              "selfcheck/raises: runtime_error (want runtime_error)",
                              "selfcheck/peek: pass (want pass)"]
    stage = Executions(sandbox=cfg)
    stage.setup()
    stage.teardown()


def test_a_sandbox_that_sees_the_host_is_refused():
    # No bwrap or unshare on PATH and allow_unsafe: a real sandbox that runs solutions without isolation.
    code = ("from factory.config import load_config\nfrom factory.sandbox import make_sandbox\n"
            "from factory.sandbox.selfcheck import check\n"
            "box = make_sandbox(load_config(['sandbox.allow_unsafe=true']).sandbox)\n"
            "print(box.isolation)\ncheck(box, isolated=True)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PATH": "/nonexistent"})
    assert run.stdout.strip() == "None", run.stderr[-2000:]
    assert run.returncode != 0
    assert "SandboxSelfCheckFailed" in run.stderr and "file system isolation is missing" in run.stderr


@pytest.mark.parametrize("message, named", [
    ("bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged "
     "user namespaces", "user namespaces"),
    ("bwrap: Can't mount proc on /newroot/proc: Operation not permitted", "procMount: Unmasked"),
    ("bwrap: Creating new namespace failed: Operation not permitted", "seccomp or AppArmor"),
])
def test_bubblewraps_messages_name_the_missing_capability(message, named):
    assert named in hint(message)
