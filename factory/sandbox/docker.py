"""The Docker executor: one warm container per worker, reused for many executions.

A container per test costs ~0.6 s here; a warm one costs a fork. Each container runs the harness reaper as
PID 1 (no network, read-only root, a small tmpfs, memory and pids limits, every capability dropped, no new
privileges, a non-root user, no Docker socket), and the worker is a `docker exec -i` into it, spoken to over
its stdin/stdout. A worker that is lost takes its container with it: the next case gets a fresh one.
Containers are removed on close(); after a crash of this process, its workers see their stdin close, the
reaper sees no worker for `idle_exit_s` and exits, and auto-remove deletes the container. Stale containers of
dead processes on this host are also removed when a DockerSandbox starts.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
import shutil
import socket
import tarfile
import time
import weakref
import zlib
from pathlib import Path

from factory.sandbox.base import Sandbox, SandboxUnavailable, WorkerLost, WorkerProcess

log = logging.getLogger(__name__)
HARNESS_DIR = Path(__file__).resolve().parent
DOCKERFILE = Path(__file__).resolve().parents[2] / "sandbox_image" / "Dockerfile"
HARNESS = "/opt/sandbox/harness.py"


def harness_files() -> list[Path]:
    return sorted(HARNESS_DIR.glob("harness*.py"))


def harness_sha() -> str:
    """The label the image carries (same as sandbox_image/build.sh): a stale harness is rebuilt, never used."""
    return hashlib.sha256(b"".join(p.read_bytes() for p in harness_files())).hexdigest()[:16]


class DockerSandbox(Sandbox):
    def __init__(self, cfg):
        super().__init__(cfg)
        import docker  # heavy, and only this executor needs it

        try:
            self.client = docker.from_env(timeout=60)
            self.client.ping()
        except Exception as exc:
            raise SandboxUnavailable(f"no Docker engine answers ({exc}); start dockerd or run "
                                     "sandbox_image/ci_setup.sh") from None
        self.cli = shutil.which("docker")
        if self.cli is None:
            raise SandboxUnavailable("the `docker` client binary is not on PATH (apt-get install docker.io)")
        self.image = cfg.get("image") or "factory-sandbox:latest"
        self.host, self.session = socket.gethostname(), secrets.token_hex(6)
        self.containers: dict[int, object] = {}
        self._ensure_image()
        self._remove_stale()
        self._finalizer = weakref.finalize(self, _remove_session, self.client, self.session)
        try:
            self._worker(0)
        except WorkerLost as exc:
            self.close()
            raise SandboxUnavailable(f"the Docker sandbox could not start a worker: {exc}") from None

    def _ensure_image(self) -> None:
        import docker

        try:
            labels = self.client.images.get(self.image).labels or {}
            if labels.get("factory.harness_sha") == harness_sha():
                return
            log.info("image %s carries an older harness: rebuilding it", self.image)
        except docker.errors.ImageNotFound:
            log.info("image %s not found: building it", self.image)
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for path in [DOCKERFILE, *harness_files()]:
                tar.add(path, arcname=path.name)
        context.seek(0)
        args = {"HARNESS_SHA": harness_sha()}
        if self.cfg.get("base_image"):
            args["BASE"] = self.cfg.get("base_image")
        try:
            self.client.images.build(fileobj=context, custom_context=True, tag=self.image, buildargs=args, rm=True)
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"cannot build {self.image} ({exc}); offline, build a base image first: "
                                     "sandbox_image/ci_setup.sh, then sandbox.base_image=factory-base:bookworm") from None

    def _remove_stale(self) -> None:
        for container in self.client.containers.list(all=True, filters={"label": f"factory.sandbox.host={self.host}"}):
            pid = int(container.labels.get("factory.sandbox.pid", "0"))
            if pid and not os.path.exists(f"/proc/{pid}"):
                log.info("removing stale sandbox container %s of dead process %d", container.short_id, pid)
                _remove(container)

    def _container(self, slot: int):
        mem = int(self.cfg.get("memory_mb", 512)) + 256
        # A uid per container: RLIMIT_NPROC counts a uid's processes across every container on the host, so with
        # one shared uid a fork bomb in one container made fork() fail (EAGAIN) in the others.
        uid = 200000 + zlib.crc32(f"{self.session}/{slot}/{time.time_ns()}".encode()) % 1_000_000
        return self.client.containers.run(
            self.image, ["sandbox-python", "-I", HARNESS, "reaper", str(self.cfg.get("idle_exit_s", 120))],
            detach=True, auto_remove=True, network_mode="none", read_only=True, user=f"{uid}:{uid}",
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={int(self.cfg.get('tmp_mb', 64))}m,mode=1777"},
            mem_limit=f"{mem}m", memswap_limit=f"{mem}m", pids_limit=int(self.cfg.get("max_processes", 32)) + 16,
            cap_drop=["ALL"], security_opt=["no-new-privileges"], environment={},
            labels={"factory.sandbox": self.session, "factory.sandbox.host": self.host,
                    "factory.sandbox.pid": str(os.getpid()), "factory.sandbox.slot": str(slot)})

    def _start(self, slot: int) -> WorkerProcess:
        if slot not in self.containers:
            self.containers[slot] = self._container(slot)
        argv = [self.cli, "exec", "-i", self.containers[slot].id, "sandbox-python", "-I", HARNESS, "worker"]
        try:
            return WorkerProcess(argv, dict(os.environ), self.limits_for(slot, uid=None, workdir="/tmp", private_pids=True))
        except WorkerLost:
            _remove(self.containers.pop(slot))
            raise

    def _drop(self, slot: int) -> None:
        super()._drop(slot)
        if slot in self.containers:  # a lost worker may have left its container in any state: replace it
            _remove(self.containers.pop(slot))

    def close(self) -> None:
        super().close()
        self.containers.clear()
        if getattr(self, "_finalizer", None) is not None:
            self._finalizer()


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception as exc:  # already gone (auto-remove) or the engine is down
        log.debug("container %s not removed: %s", getattr(container, "short_id", "?"), exc)


def _remove_session(client, session: str) -> None:
    for container in client.containers.list(all=True, filters={"label": f"factory.sandbox={session}"}):
        _remove(container)
