"""A host process killed with SIGKILL (OOM killer, a preempted node) leaves no sandbox process behind, even with a
worker busy on a solution that sleeps; and a wrong isolation setting is refused by name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.sandbox.conftest import sandbox_cfg

HOST = """
import json, sys, threading, time
from factory.sandbox import Case, IOTest, make_sandbox
from factory.config import load_config
cfg = load_config(sys.argv[1:]).sandbox
box = make_sandbox(cfg)
print(json.dumps([v.status for v in box.run([Case("ok", "def f():\\n    return 1\\n", "f", [IOTest("[]", "1")])])[0]]))
sleeper = Case("sleeps", "import time\\ndef f():\\n    time.sleep(1000)\\n", "f", [IOTest("[]", "1")])
threading.Thread(target=box.run, args=([sleeper, sleeper],), daemon=True).start()
time.sleep(1.0)
print("busy", flush=True)
time.sleep(1000)
"""


def descendants(root: int) -> set[int]:
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        kids = [p for p, pp in parent.items() if pp == pid]
        found.update(kids)
        todo += kids
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("kind", ["local", "local:unshare"])
def test_no_sandbox_process_outlives_a_killed_host(kind):
    _, _, isolation = kind.partition(":")
    args = ["sandbox=local", "sandbox.workers=2", "sandbox.timeout=60"] + ([f"sandbox.isolation={isolation}"] if isolation else [])
    host = subprocess.Popen([sys.executable, "-c", HOST, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(host.stdout.readline()) == ["pass"]
        assert host.stdout.readline().strip() == "busy"
        sandbox = descendants(host.pid)
        assert len(sandbox) >= 4  # two workers, each with its isolation wrapper and a child
    finally:
        os.kill(host.pid, signal.SIGKILL)
        host.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in sandbox) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in sandbox if alive(pid)], "sandbox processes outlived their host"


def test_isolation_is_checked_by_name(monkeypatch, tmp_path):
    from factory.sandbox import SandboxUnavailable, make_sandbox

    with pytest.raises(ValueError, match="sandbox.isolation"):
        make_sandbox(sandbox_cfg("local", "sandbox.isolation=chroot"))
    monkeypatch.setenv("PATH", str(tmp_path))  # neither tool can be found
    with pytest.raises(SandboxUnavailable, match="unshare is not installed"):
        make_sandbox(sandbox_cfg("local", "sandbox.isolation=unshare"))
    with pytest.raises(SandboxUnavailable, match="allow_unsafe"):
        make_sandbox(sandbox_cfg("local"))
