"""A multi-node Ray cluster on this machine: one `ray start --block` process per node, each with its own ports.

Why `--block`: each node's processes (raylet, GCS, dashboard, workers) then live in one process group that we
own, so the cluster stops by signalling those groups; `ray stop` would kill every Ray instance on the machine,
including other test sessions' `ray.init()` clusters. Ports are picked free and the temp dir is private, so
nothing collides with Ray instances started by others. Ray >= 2.59 turns token authentication on for local
clusters: this cluster uses its own token (RAY_AUTH_TOKEN in `self.env`), which every client must carry.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def free_port_range(n: int, taken: set[int]) -> int:
    """First port of `n` consecutive free ports below Linux's ephemeral range, where `free_ports` and every other
    bind(0) on the machine pick theirs: a worker range drawn from the ephemeral range once overlapped the dashboard
    port, and Ray refused to start."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    low = max(1024, ephemeral_low - 12000)
    rng = random.Random()
    for _ in range(200):
        first = rng.randrange(low, ephemeral_low - n)
        ports = range(first, first + n)
        if taken.intersection(ports):
            continue
        socks = []
        try:
            for port in ports:
                socks.append(socket.socket())
                socks[-1].bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        taken.update(ports)
        return first
    raise RuntimeError(f"no {n} consecutive free ports between {low} and {ephemeral_low}")


class LocalCluster:
    def __init__(self):
        self.temp_dir = tempfile.mkdtemp(prefix="rc", dir="/tmp")   # short: Ray's socket paths must stay < 108
        self.procs: list[subprocess.Popen] = []
        self.gcs_port, self.dashboard_port, self.client_port = free_ports(3)
        self.address = f"127.0.0.1:{self.gcs_port}"
        self.dashboard = f"http://127.0.0.1:{self.dashboard_port}"
        self.token = secrets.token_hex(32)
        self.worker_ports: set[int] = set()   # every node's worker range, kept apart
        # The environment of the nodes and of every client (driver, `ray job` CLI) of this cluster.
        self.env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH")}
        self.env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token, RAY_USAGE_STATS_ENABLED="0")

    def _start(self, args: list[str], name: str) -> None:
        nm, om, agent, agent_grpc, metrics, rt_env = free_ports(6)
        worker = free_port_range(61, self.worker_ports)
        log = open(os.path.join(self.temp_dir, f"{name}.log"), "w")
        cmd = ["ray", "start", "--block", f"--node-manager-port={nm}", f"--object-manager-port={om}",
               f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}",
               f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={rt_env}",
               f"--min-worker-port={worker}", f"--max-worker-port={worker + 60}", *args]
        self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                           env=self.env))

    def start_head(self, num_cpus: int, resources: dict | None = None) -> None:
        self._start(["--head", f"--port={self.gcs_port}", f"--temp-dir={self.temp_dir}", "--include-dashboard=true",
                     f"--dashboard-port={self.dashboard_port}", f"--ray-client-server-port={self.client_port}",
                     f"--num-cpus={num_cpus}", f"--resources={json.dumps(resources or {})}"], "head")
        self.wait_dashboard()

    def add_node(self, name: str, num_cpus: int, num_gpus: int = 0, resources: dict | None = None,
                 timeout: float = 120) -> None:
        """Start a node and wait until it runs. One at a time: nodes on one machine share the session folder,
        and two raylets starting together race for the same socket names there ("Address already in use")."""
        self._start([f"--address={self.address}", f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}",
                     f"--resources={json.dumps(resources or {})}"], name)
        log = os.path.join(self.temp_dir, f"{name}.log")
        deadline = time.time() + timeout
        while "Ray runtime started" not in open(log).read():
            if self.procs[-1].poll() is not None or time.time() > deadline:
                raise RuntimeError(f"node {name} did not start: {open(log).read()[-3000:]}")
            time.sleep(0.5)

    def wait_dashboard(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                request = urllib.request.Request(f"{self.dashboard}/api/version",
                                                 headers={"Authorization": f"Bearer {self.token}"})
                with urllib.request.urlopen(request, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(1)
        raise RuntimeError(f"Ray head did not come up; logs in {self.temp_dir}: {self.logs()[-3000:]}")

    def logs(self) -> str:
        return "".join(open(os.path.join(self.temp_dir, f)).read() for f in sorted(os.listdir(self.temp_dir))
                       if f.endswith(".log"))

    def stop(self) -> None:
        # Workers first, head last; SIGTERM lets `ray start --block` stop its node's processes.
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        # Anything of ours that outlived its `ray start` (a worker that ignored SIGTERM) is in the same groups.
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)
