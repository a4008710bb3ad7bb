"""Fixtures of the sandbox tests: real executors (bubblewrap, a real Docker engine), a canary world to escape to."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from factory.config import load_config
from factory.sandbox import Case, IOTest, make_sandbox

SECRET_VAR = "FACTORY_TEST_SECRET"


def docker_reason() -> str | None:
    """Why the Docker tests cannot run here, or None. Only a missing engine skips them (CI starts one)."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:
        return f"no Docker engine answers ({type(exc).__name__}); run sandbox_image/ci_setup.sh as root"
    return None


# "local" uses bubblewrap; "local:unshare" the util-linux fallback, which must hold against the same suite.
KINDS = ["local", "local:unshare", pytest.param("docker", marks=[pytest.mark.docker,
                                                pytest.mark.skipif(docker_reason() is not None,
                                                                   reason=str(docker_reason()))])]


def sandbox_cfg(kind: str, *overrides: str):
    kind, _, isolation = kind.partition(":")
    extra = [f"sandbox.isolation={isolation}"] if isolation else []
    if kind == "docker":
        import docker

        try:
            docker.from_env().images.get("factory-base:bookworm")
            extra.append("sandbox.base_image=factory-base:bookworm")  # offline: build on the debootstrap base
        except docker.errors.ImageNotFound:
            pass
    return load_config([f"sandbox={kind}", "sandbox.timeout=1", "sandbox.wall_factor=3", "sandbox.memory_mb=256",
                        "sandbox.max_processes=16", *extra, *overrides]).sandbox


def open_sandbox(kind: str, *overrides: str):
    return make_sandbox(sandbox_cfg(kind, *overrides))


class World:
    """What a solution must not reach: a host file and folder, an env var of this process, a TCP listener."""

    def __init__(self, root):
        self.secret = "s3cr3t-" + os.urandom(8).hex()
        self.dir = root / "canary"
        self.dir.mkdir()
        self.canary = self.dir / "canary.txt"
        self.canary.write_text(self.secret)
        os.environ[SECRET_VAR] = self.secret
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.listener.accept()[0].close()
            except OSError:
                return
            self.connections += 1

    def fill(self, code: str) -> str:
        return (code.replace("{canary_dir}", str(self.dir)).replace("{canary}", str(self.canary))
                .replace("{port}", str(self.port)).replace("{secret_var}", SECRET_VAR))

    def case(self, h, suffix: str = "") -> Case:
        solution = self.fill(h.solution)
        if h.assert_tests is not None:
            return Case(h.name + suffix, solution, h.entry_point, assert_tests=h.assert_tests)
        return Case(h.name + suffix, solution, h.entry_point, [IOTest(i, h.expected) for i in h.inputs])

    def escapes(self, verdicts) -> list[str]:
        found = []
        if not self.canary.exists() or self.canary.read_text() != self.secret:
            found.append("the canary file was changed or deleted")
        if (self.dir / "evil.txt").exists() or os.path.exists("/usr/evil.txt") or os.path.exists("/etc/evil"):
            found.append("a file was written outside the sandbox")
        if self.connections:
            found.append(f"{self.connections} connections reached the listener on 127.0.0.1")
        if any(self.secret in (v.output or "") + v.detail for v in verdicts):
            found.append("the secret came back in a verdict")
        return found

    def close(self):
        self.listener.close()
        os.environ.pop(SECRET_VAR, None)


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def process_children() -> dict[int, list[int]]:
    """Parent pid -> live (not zombie) child pids, from /proc."""
    out: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                out.setdefault(int(fields[1]), []).append(int(name))
    return out


def sandbox_processes(box) -> int:
    """Processes inside the sandbox: descendants of the bwrap workers, or the processes of the containers."""
    if hasattr(box, "containers"):
        return sum(len(c.top()["Processes"] or []) for c in box.containers.values())
    children = process_children()
    todo = [w.proc.pid for w in box._workers if w is not None]
    count = 0
    while todo:
        pid = todo.pop()
        count += 1
        todo += children.get(pid, [])
    return count


def settle(box, baseline: int, seconds: float = 3.0) -> int:
    deadline = time.monotonic() + seconds
    while (now := sandbox_processes(box)) > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    return now
