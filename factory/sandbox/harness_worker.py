"""The warm worker and the container reaper (inside the sandbox). Standard library only.

The worker is trusted: it never runs a solution, only forks children that do, and judges them from outside
(CPU time from /proc, wall clock, output bytes, exit status). After every execution it kills every other
process in its PID namespace, so `setsid` grandchildren and daemons die with the run.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import os
import select
import shutil
import signal
import sys
import time

from harness import read_frame, split_frames, write_frame
from harness_assert import IO_REPLIES, Failed, run_check

TICK = os.sysconf("SC_CLK_TCK")

class Child:
    """One forked child: pipes for the job, the replies and its stdout/stderr, and a pidfd to see it exit."""

    def __init__(self, cfg: dict, child_main):
        self.cfg, self.out_bytes, self.buf, self.started, self.cpu_ms = cfg, 0, b"", None, 0.0
        self.eof: set[int] = set()
        job_r, self.job_w = os.pipe()
        self.res_r, res_w = os.pipe()
        self.out_r, out_w = os.pipe()
        gc.freeze()  # the worker's objects so far: a collection in the child would write to each header (a copy)
        self.pid = _fork()
        if self.pid == 0:
            try:
                os.close(self.job_w), os.close(self.res_r), os.close(self.out_r)
                child_main(job_r, res_w, out_w, cfg)
            finally:
                os._exit(120)
        for fd in (job_r, res_w, out_w):
            os.close(fd)
        for fd in (self.res_r, self.out_r):
            os.set_blocking(fd, False)
        self.pidfd = os.pidfd_open(self.pid)

    def send(self, obj) -> None:
        if self.started is None:
            self._await_confined()
            self.started = time.monotonic()
        write_frame(self.job_w, obj)

    def _await_confined(self) -> None:
        """The child writes one byte once its limits and uid are set, before it can run anything untrusted:
        dying before that byte is our failure (sandbox_error); any exit after it is the solution's."""
        ready, _, _ = select.select([self.res_r], [], [], 10.0)
        byte = _drain_one(self.res_r) if ready else b""
        if byte != b"R":
            raise Failed({"status": "sandbox_error", "detail": "the child could not set up its confinement"})

    def cpu_seconds(self) -> float:
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            return 0.0

    def reply(self) -> dict:
        """Wait for the next reply frame, or raise Failed with the verdict that ended the run."""
        timeout, cap = self.cfg["timeout"], self.cfg["output_cap"]
        deadline = self.started + timeout * self.cfg["wall_factor"] + 2.0
        while True:
            frames, self.buf = split_frames(self.buf)
            if frames:
                return frames[0] if len(frames) == 1 else {"status": "runtime_error", "detail": "wrote to the harness channel"}
            watch = [fd for fd in (self.res_r, self.out_r) if fd not in self.eof] + [self.pidfd]
            ready, _, _ = select.select(watch, [], [], 0.02)
            if self.res_r in ready:
                data = _drain(self.res_r)
                self.buf += data
                if data:
                    continue
                self.eof.add(self.res_r)  # closed (the child exited, or closed it): do not spin on it
            if self.out_r in ready:
                data = _drain(self.out_r)
                self.out_bytes += len(data)
                if not data:
                    self.eof.add(self.out_r)
                if self.out_bytes > cap:
                    raise Failed({"status": "output_limit", "detail": f"printed more than {cap} bytes"})
            if self.pidfd in ready:
                self.buf += _drain(self.res_r)
                if split_frames(self.buf)[0]:
                    continue
                raise Failed(self._exit_verdict())
            if self.cpu_seconds() > timeout:
                raise Failed({"status": "timeout", "detail": f"more than {timeout:g} s of CPU time"})
            if time.monotonic() > deadline:
                raise Failed({"status": "timeout", "detail": "wall-clock backstop (sleeping or blocked)"})

    def _exit_verdict(self) -> dict:
        _, status, usage = os.wait4(self.pid, 0)
        self.pid, self.cpu_ms = None, (usage.ru_utime + usage.ru_stime) * 1000
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU:
                return {"status": "timeout", "detail": "CPU time limit"}
            return {"status": "runtime_error", "detail": f"killed by {signal.Signals(sig).name}"}
        code = os.WEXITSTATUS(status)
        return {"status": "runtime_error", "detail": f"exited with code {code} before answering"}

    def finish(self) -> float:
        """Kill the child, reap it, return its CPU milliseconds."""
        cpu = self.cpu_ms
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, _, usage = os.wait4(self.pid, 0)
            cpu = (usage.ru_utime + usage.ru_stime) * 1000
            self.pid = None
        for fd in (self.job_w, self.res_r, self.out_r, self.pidfd):
            os.close(fd)
        return cpu


def _drain_one(fd: int) -> bytes:
    try:
        return os.read(fd, 1)
    except BlockingIOError:
        return b""


def _drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _fork() -> int:
    # Killed fork bombs keep their PIDs charged for a second or two: wait rather than fail the next run.
    for attempt in range(40):
        try:
            return os.fork()
        except BlockingIOError:
            time.sleep(0.1)
    return os.fork()


def kill_others(cfg: dict) -> None:
    """Kill every process in this PID namespace except PID 1 and the worker (only in a private namespace)."""
    if not cfg["private_pids"]:
        return
    keep = {1, os.getpid()}
    # Wait for zombies too: until PID 1 reaps them they still count against RLIMIT_NPROC and the pids limit,
    # and the next run's fork() would fail with EAGAIN, a verdict the next solution did not earn.
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        left = 0
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in keep:
                left += 1
                try:
                    with open(f"/proc/{name}/stat") as f:
                        if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                            os.kill(int(name), signal.SIGKILL)
                except (OSError, IndexError):
                    pass
        if not left and _pids_released():
            return
        time.sleep(0.005)


def _pids_released() -> bool:
    """True once the pids cgroup we can see (Docker) no longer charges the killed tasks: the kernel releases them
    a little after they are reaped, and until then the next run's fork() fails with EAGAIN."""
    for path in ("/sys/fs/cgroup/pids/pids.current", "/sys/fs/cgroup/pids.current"):
        try:
            with open(path) as f:
                current = int(f.read())
        except (OSError, ValueError):
            continue
        return current <= len(os.listdir("/proc/1/task")) + len(os.listdir("/proc/self/task"))
    return True


def clean_workdir(cfg: dict) -> None:
    for entry in os.scandir(cfg["workdir"]):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------------------------

def run_one(child: Child, case: dict, inputs: str | None, mode: str) -> dict:
    try:
        if inputs is None:
            reply = run_check(child, case, mode)
        else:
            child.send({"mode": "io", "solution": case["solution"], "entry_point": case["entry_point"],
                        "inputs": inputs, "coverage": case.get("coverage", False),
                        "output_cap": child.cfg["output_cap"]})
            reply = child.reply()
            if reply.get("status") not in IO_REPLIES:  # a child can say what it returned, never that it passed
                reply = {"status": "runtime_error", "detail": "wrote to the harness channel"}
    except Failed as failed:
        reply = failed.reply
    except OSError as exc:  # the child closed its job pipe early (it exited): judge it by its exit
        reply = {"status": "runtime_error", "detail": f"child closed its channel: {exc}"}
        if exc.errno == errno.EPIPE and child.pid is not None:
            try:
                reply = child._exit_verdict()
            except ChildProcessError:
                pass
    reply["cpu_ms"] = child.finish()
    return reply


def _pin(index) -> None:
    """Run this worker and its children on one CPU: each hand-off between them is then a local wake-up, not an
    inter-processor interrupt (costly in a VM). The host spreads `index` over workers and processes."""
    if index is None:
        return
    cpus = sorted(os.sched_getaffinity(0))
    try:
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})
    except OSError:
        pass


def worker_main(child_main) -> None:
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE=0: a child cannot read our memory or fds via /proc
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    cfg = read_frame(0)
    os.makedirs(cfg["workdir"], exist_ok=True)
    _pin(cfg.get("cpu"))
    write_frame(1, {"status": "ready", "pid": os.getpid()})
    spare = None
    while True:
        spare = spare or Child(cfg, child_main)  # forked while idle, before the next request (and its nonce)
        request = read_frame(0)
        if request is None:
            break
        for index, case in enumerate(request["cases"]):
            verdicts = []
            for inputs in case.get("tests") or [None]:
                verdicts.append(run_test(cfg, child_main, case, inputs, spare))
                spare = None
            write_frame(1, {"nonce": request["nonce"], "index": index, "verdicts": verdicts})
    if spare:
        spare.finish()


def run_test(cfg: dict, child_main, case: dict, inputs, spare) -> dict:
    """One I/O test, or the assertion tests (replayed, or judged live when the replay diverges)."""
    cpu_ms = 0.0
    for mode in ("replay", "live") if cfg.get("assert_mode", "replay") == "replay" else ("live",):
        child, spare = spare or Child(cfg, child_main), None
        reply = run_one(child, case, inputs, mode)
        cpu_ms += reply["cpu_ms"]
        kill_others(cfg)
        clean_workdir(cfg)
        if reply["status"] != "diverged":  # the tests did not replay the same way: judge them live
            break
    return {**reply, "cpu_ms": cpu_ms}


def init_main() -> None:
    """PID 1 of the unshare sandbox: start the worker (argv[2:]), reap every orphan, exit when the worker does."""
    worker = os.fork()
    if worker == 0:
        os.execv(sys.argv[2], sys.argv[2:])
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == worker:
            os._exit(os.waitstatus_to_exitcode(status) & 0x7F)


def reaper_main() -> None:
    """PID 1 of a container: reap orphans; exit once no worker has run for `idle` seconds (argv[2])."""
    idle = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    last_busy = time.monotonic()
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if any(n.isdigit() and n != "1" for n in os.listdir("/proc")):
            last_busy = time.monotonic()
        elif time.monotonic() - last_busy > idle:
            os._exit(0)
        time.sleep(0.02)  # workers wait for zombies to be reaped before the next run: keep that wait short
