"""What both executors share: warm worker processes spoken to over pipes, the case queue, retries, verdicts.

An executor (local.py, docker.py) only says how to start worker number `slot` (`_start`) and what the
child's limits are. Each worker serves one case at a time; a thread per worker keeps them all busy.

Infrastructure faults are not the solution's: a worker that dies, answers late or out of protocol, or reports
`sandbox_error` (its child could not set up confinement) is replaced and the case retried on a fresh worker, up
to `sandbox.retries` times. What still fails is reported as `infra_error`, which verification never counts as a
pass or a fail (factory/sandbox/verdicts.py). One exception: a worker lost during the same case on every one of
two or more fresh workers was killed by that case (a solution can kill its parent), a `runtime_error`.
A wall-clock backstop hit is ambiguous (the code slept, or the machine starved it; by construction it had used
less CPU than its limit): those tests run once more on a fresh worker, and only a second hit is a `timeout`.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import secrets
import select
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from factory.executors.resources import worker_cpus
from factory.sandbox.harness import parse_literal, split_frames, write_frame
from factory.sandbox.verdicts import STATUSES, Verdict, outputs_equal

log = logging.getLogger(__name__)


class SandboxUnavailable(RuntimeError):
    """The isolation the config asks for cannot be set up here (the message says what is missing)."""


class WorkerLost(Exception):
    pass


class WorkerProcess:
    """One warm harness worker: a subprocess started with exec (never a fork of this threaded process)."""

    def __init__(self, argv: list[str], env: dict, limits: dict, start_timeout: float = 60.0):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     env=env, close_fds=True)
        self.buf, self.frames, self.runs = b"", [], 0   # frames: read, not yet taken (a chunk may hold several)
        try:
            write_frame(self.proc.stdin.fileno(), limits)
            ready = self._read(time.monotonic() + start_timeout)
        except (WorkerLost, OSError) as exc:
            self.close()
            raise WorkerLost(f"worker did not start: {exc}; stderr: {self.stderr_tail()}") from None
        if ready.get("status") != "ready":
            self.close()
            raise WorkerLost(f"worker did not start: {ready}")

    def request(self, cases: list[dict], budgets: list[float]):
        """Send a batch of cases; yield each case's raw verdicts as the worker answers, in order. Raises
        WorkerLost at the case that was running when the worker was lost (the ones before it are answered)."""
        nonce = secrets.token_hex(16)  # a reply that does not echo it did not come from this worker's answer
        try:
            write_frame(self.proc.stdin.fileno(), {"nonce": nonce, "cases": cases})
        except OSError as exc:
            raise WorkerLost(f"worker gone: {exc}") from None
        for index, (case, budget) in enumerate(zip(cases, budgets)):
            reply = self._read(time.monotonic() + budget)
            if reply.get("nonce") != nonce or reply.get("index") != index or \
                    len(reply.get("verdicts", ())) != len(case.get("tests") or [None]):
                raise WorkerLost("worker answered out of protocol")
            self.runs += 1
            yield reply["verdicts"]

    def _read(self, deadline: float) -> dict:
        fd = self.proc.stdout.fileno()
        while True:
            frames, self.buf = split_frames(self.buf)
            self.frames += frames
            if self.frames:
                return self.frames.pop(0)
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerLost("worker did not answer in time")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise WorkerLost(f"worker exited ({self.proc.poll()}); stderr: {self.stderr_tail()}")
                self.buf += chunk

    def stderr_tail(self) -> str:
        self.stderr.seek(0, os.SEEK_END)
        self.stderr.seek(max(0, self.stderr.tell() - 800))
        return self.stderr.read().decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        self.stderr.close()


class Sandbox:
    """Runs cases on `workers` warm workers. Subclasses implement `_start(slot)` and may extend `close()`."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.timeout = float(cfg.get("timeout", 5))
        self.wall_factor = float(cfg.get("wall_factor", 5))
        self.retries = int(cfg.get("retries", 2))
        self.recycle_after = int(cfg.get("recycle_after", 1000))
        self.batch = max(1, int(cfg.get("batch", 8)))
        # Default: one per CPU this process was given (a Ray actor's num_cpus, else its affinity), not the node's.
        self.num_workers = int(cfg.get("workers") or worker_cpus())
        self.assert_mode = str(cfg.get("assert_mode", "replay"))
        if self.timeout <= 0:
            raise ValueError(f"sandbox.timeout must be > 0 CPU seconds, got {self.timeout}")
        if self.assert_mode not in ("replay", "live"):
            raise ValueError(f"sandbox.assert_mode must be 'replay' or 'live', got {self.assert_mode!r}")
        self._workers: list[WorkerProcess | None] = [None] * self.num_workers
        # Workers pin themselves to CPU (slot + offset) mod n; a random offset per executor spreads several
        # executors on one node (Ray actors) over its CPUs.
        self.pin_offset = random.randrange(1 << 16) if cfg.get("pin_cpus", True) else None
        self.latencies: list[float] = []
        # Every worker is started from this one thread, which lives as long as the executor: the kernel sends a
        # worker its parent-death signal (bwrap --die-with-parent, setpriv --pdeathsig) when the *thread* that
        # started it exits, and `run`'s threads exit with each call; started there, workers died after every run.
        self._launcher = ThreadPoolExecutor(1, thread_name_prefix="sandbox-launcher")

    def limits(self, **extra) -> dict:
        cfg = self.cfg
        return {"timeout": self.timeout, "wall_factor": self.wall_factor,
                "memory_mb": int(cfg.get("memory_mb", 512)), "output_cap": int(cfg.get("output_limit_kb", 1024)) * 1024,
                "processes": int(cfg.get("max_processes", 32)), "open_files": int(cfg.get("max_open_files", 64)),
                "file_mb": int(cfg.get("max_file_mb", 16)), "assert_mode": self.assert_mode, **extra}

    def limits_for(self, slot: int, **extra) -> dict:
        cpu = None if self.pin_offset is None else self.pin_offset + slot
        return self.limits(cpu=cpu, **extra)

    def _start(self, slot: int) -> WorkerProcess:
        raise NotImplementedError

    # -- running cases ------------------------------------------------------------------------------------------
    def run(self, cases: list, coverage: bool = False) -> list[list[Verdict]]:
        """One Verdict per I/O test in order, or exactly one for assert_tests. Never raises for bad user code."""
        results: list = [None] * len(cases)
        todo: queue.Queue = queue.Queue()
        for index in range(len(cases)):
            todo.put(index)
        workers = min(self.num_workers, len(cases))

        errors: list[BaseException] = []

        def serve(slot: int) -> None:
            try:
                _serve(slot)
            except BaseException as exc:  # a bug of ours, not the code's: the caller must see it, not a None
                errors.append(exc)

        def _serve(slot: int) -> None:
            while True:
                # Batches save a wake-up of the worker per case; small ones near the end keep every worker busy.
                size = max(1, min(self.batch, todo.qsize() // workers))
                batch = []
                while len(batch) < size:
                    try:
                        batch.append(todo.get_nowait())
                    except queue.Empty:
                        break
                if not batch:
                    return
                for index, verdicts in zip(batch, self._run_batch(slot, [cases[i] for i in batch], coverage)):
                    results[index] = verdicts

        threads = [threading.Thread(target=serve, args=(slot,), daemon=True) for slot in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    def _run_batch(self, slot: int, cases: list, coverage: bool) -> list[list[Verdict]]:
        """Run cases on worker `slot`. A lost worker, or a sandbox_error, is charged to the case that was running
        and retried with a fresh worker; the cases after it go on there. Tests that hit the wall-clock backstop
        run once more, after the batch, on a fresh worker."""
        out, todo = [], []   # todo: (case index, payload, positions: None for the first run, else the re-run tests)
        for index, case in enumerate(cases):
            verdicts, payload = _prepare(case, coverage)
            out.append(verdicts)
            if payload is not None:
                todo.append((index, payload, None))
        raws: list[list | None] = [None] * len(cases)   # raw replies of each case's payload tests
        attempts, lost, detail = [0] * len(cases), [0] * len(cases), [""] * len(cases)
        while todo:
            budgets = [len(p.get("tests") or [None]) * (self.timeout * self.wall_factor + 2) + 20 for _, p, _ in todo]
            start = time.perf_counter()
            reruns = []
            try:
                for raw in self._worker(slot).request([p for _, p, _ in todo], budgets):
                    index, payload, positions = todo[0]
                    if any(r["status"] == "sandbox_error" for r in raw):
                        self._drop(slot)  # recycle after any infrastructure error, then retry the case
                        detail[index] = next(r.get("detail", "") for r in raw if r["status"] == "sandbox_error")
                        break
                    todo.pop(0)
                    walls = _take(raws, index, raw, positions)
                    if walls:
                        reruns.append((index, _subset(payload, walls), walls))
                    else:
                        out[index] = _merge(out[index], raws[index], cases[index])
                    self.latencies.append(time.perf_counter() - start)  # seconds per case (benchmarks read it)
                    start = time.perf_counter()
                else:
                    worker = self._workers[slot]
                    if reruns or (worker is not None and worker.runs >= self.recycle_after):
                        self._drop(slot)   # wall-clock re-runs go to a fresh worker
                    todo += reruns
                    continue
            except WorkerLost as exc:
                self._drop(slot)
                index = todo[0][0]
                lost[index], detail[index] = lost[index] + 1, str(exc)
            todo[len(todo):] = reruns   # cases answered before the fault keep their re-runs
            attempts[index] += 1
            if attempts[index] > self.retries:
                index, payload, positions = todo.pop(0)
                status, why = self._given_up(attempts[index], lost[index], detail[index])
                n = len(payload.get("tests") or [None])
                _take(raws, index, [{"status": status, "detail": why}] * n, positions)
                out[index] = _merge(out[index], raws[index], cases[index])
        return out

    @staticmethod
    def _given_up(attempts: int, lost: int, detail: str) -> tuple[str, str]:
        """The verdict of a case whose retries are spent. A worker lost during this very case on every one of two
        or more fresh workers was killed by the case (Docker: same uid): the solution's fault. Anything else
        (one attempt only, a worker that did not start, a sandbox_error) is the infrastructure's."""
        if lost == attempts >= 2 and "did not start" not in detail:
            return "runtime_error", f"the solution killed its sandbox worker ({detail[:200]})"
        return "infra_error", f"sandbox fault after {attempts} attempts: {detail[:300]}"

    def _worker(self, slot: int) -> WorkerProcess:
        if self._workers[slot] is None:
            self._workers[slot] = self._launcher.submit(self._start, slot).result()
        return self._workers[slot]

    def _drop(self, slot: int) -> None:
        worker, self._workers[slot] = self._workers[slot], None
        if worker is not None:
            worker.close()

    def close(self) -> None:
        for slot in range(self.num_workers):
            self._drop(slot)
        self._launcher.shutdown(wait=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _prepare(case, coverage: bool) -> tuple[list, dict | None]:
    """Check what the host can check (inputs are literal lists, an entry point exists) before sending a case."""
    if case.assert_tests is not None:
        return [None], {"solution": case.solution, "entry_point": case.entry_point, "assert_tests": case.assert_tests}
    verdicts, tests = [], []
    for test in case.tests:
        try:
            ok = isinstance(parse_literal(test.inputs), (list, tuple))
        except (ValueError, RecursionError):
            ok = False
        if not case.entry_point:
            verdicts.append(Verdict("missing_entry_point", "the case names no entry_point"))
        elif not ok:
            verdicts.append(Verdict("runtime_error", "invalid_test_inputs: not a literal list of arguments"))
        else:
            verdicts.append(None)
            tests.append(test.inputs)
    if not tests:
        return verdicts, None
    return verdicts, {"solution": case.solution, "entry_point": case.entry_point, "tests": tests, "coverage": coverage}


WALL = "wall-clock backstop"   # the detail the worker gives a timeout it judged by the wall clock (harness_worker.py)


def _wall_hit(reply: dict) -> bool:
    return reply.get("status") == "timeout" and str(reply.get("detail", "")).startswith(WALL)


def _take(raws: list, index: int, raw: list[dict], positions: list[int] | None) -> list[int]:
    """Store a payload's replies (a first run) or a re-run's (into `positions`); return the positions of a first
    run whose tests hit the wall clock, to be run once more. A second wall-clock hit is the solution's timeout."""
    if positions is None:
        raws[index] = list(raw)
        return [i for i, r in enumerate(raw) if _wall_hit(r)]
    for pos, reply in zip(positions, raw):
        if _wall_hit(reply):
            reply = {**reply, "detail": f"{WALL} hit twice, on two fresh workers (sleeping or blocked)"}
        raws[index][pos] = reply
    return []


def _subset(payload: dict, positions: list[int]) -> dict:
    if "tests" not in payload:   # assertion tests: one verdict, the whole case again
        return payload
    return {**payload, "tests": [payload["tests"][i] for i in positions]}


def _merge(verdicts: list, raw: list[dict], case) -> list[Verdict]:
    out, replies = [], iter(raw)
    for index, verdict in enumerate(verdicts):
        if verdict is None:
            verdict = _verdict(next(replies), case.tests[index].expected if case.assert_tests is None else None)
        out.append(verdict)
    return out


def _verdict(reply: dict, expected: str | None) -> Verdict:
    status, cpu = reply["status"], float(reply.get("cpu_ms", 0.0))
    if status == "returned":
        output = reply["output"]
        if expected is None:   # nothing to judge against yet: the caller labels outputs itself (verify.outputs)
            return Verdict("returned", "", output, cpu, reply.get("branches"))
        status = "pass" if outputs_equal(output, expected) else "wrong_answer"
        return Verdict(status, "" if status == "pass" else f"returned {output[:200]}", output, cpu, reply.get("branches"))
    if expected is not None and status in ("pass", "wrong_answer"):  # I/O verdicts come from our comparison only
        status = "runtime_error"
    if status == "sandbox_error":   # defence: a raw sandbox_error is retried (`_run_batch`) before it gets here
        status = "infra_error"
    elif status not in STATUSES:
        status = "runtime_error"
    return Verdict(status, str(reply.get("detail", ""))[:1000], None, cpu)
