"""The forked child that runs untrusted code (inside the sandbox). Standard library only.

It drops privileges and sets its limits before it even receives its job, then answers in plain data only:
  io      run the solution's module code, call entry_point(*inputs) once, send the return value as a literal.
  replay  run the module code and the assertion tests, recording every call of a solution function as plain
          data; send the summary of its top-level names and that transcript (harness_assert.py).
  live    run the module code, send the summary, then answer calls from the worker (which runs the assertion
          tests) until the worker kills it.
Nothing it sends can become a pass by itself: for io the host compares values, for the others the worker runs
the tests and compares.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
import types

from harness import (SOLUTION_FILE, Unserializable, _exit, _type, _write, copy_plain, parse_literal, read_frame,
                     to_literal, write_frame)
from harness_assert import answer, call_record, run_tests, test_namespace

_settrace, _str, _len = sys.settrace, str, len
_libc = ctypes.CDLL(None, use_errno=True)


def child_main(job_r: int, res_w: int, out_w: int, cfg: dict) -> None:
    """Entry of the forked child; never returns. Exit 120 means the harness itself failed (a sandbox_error)."""
    try:
        _confine(job_r, res_w, out_w, cfg)
        _write(res_w, b"R")  # confined: from here on, any failure is the solution's
        job = read_frame(job_r)
    except BaseException:
        _exit(120)
    if job is None:
        _exit(0)
    try:
        if job["mode"] == "io":
            write_frame(res_w, run_io(job))
        elif job["mode"] == "replay":
            write_frame(res_w, replay(job))
        else:
            serve(job, job_r, res_w)
    except BaseException:
        _exit(121)
    _exit(0)


def _confine(job_r: int, res_w: int, out_w: int, cfg: dict) -> None:
    os.setsid()
    _libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG=SIGKILL: never outlive the worker
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    for fd in [int(n) for n in os.listdir("/proc/self/fd")]:
        if fd > 2 and fd not in (job_r, res_w):
            try:
                os.close(fd)
            except OSError:
                pass
    mb = 1024 * 1024
    cpu = int(cfg["timeout"]) + 2  # a hard backstop per process; the worker enforces the exact budget
    limits = {resource.RLIMIT_AS: cfg["memory_mb"] * mb, resource.RLIMIT_CPU: cpu,
              resource.RLIMIT_FSIZE: cfg["file_mb"] * mb, resource.RLIMIT_NOFILE: cfg["open_files"],
              resource.RLIMIT_NPROC: cfg["processes"], resource.RLIMIT_CORE: 0}
    for key, value in limits.items():
        resource.setrlimit(key, (value, value))
    if cfg.get("uid") is not None:  # a uid of its own: it cannot signal or trace the worker, and NPROC counts
        os.setgroups([])
        os.setresgid(cfg["uid"], cfg["uid"], cfg["uid"])
        os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
    os.chdir(cfg["workdir"])
    sys.setrecursionlimit(3000)


def _describe(exc: BaseException) -> str:
    try:
        return f"{_type(exc).__name__}: {_str(exc)[:500]}"
    except BaseException:
        return _type(exc).__name__


def _error(exc: BaseException) -> dict:
    if isinstance(exc, MemoryError):
        return {"status": "memory_limit", "detail": "MemoryError"}
    return {"status": "runtime_error", "detail": _describe(exc)}


def load(source: str, entry_point: str | None) -> tuple[dict, dict | None]:
    """Run the solution's module code; return its namespace, or an error reply."""
    try:
        code = compile(source, SOLUTION_FILE, "exec")
    except (SyntaxError, ValueError, OverflowError) as exc:
        return {}, {"status": "syntax_error", "detail": _describe(exc)}
    except BaseException as exc:
        return {}, _error(exc)
    namespace = {"__name__": "solution", "__file__": SOLUTION_FILE}
    try:
        exec(code, namespace)
    except BaseException as exc:
        return {}, _error(exc)
    if entry_point is not None and not callable(namespace.get(entry_point)):
        return {}, {"status": "missing_entry_point", "detail": f"no function {entry_point!r}"}
    return namespace, None


def encode(value, cap: int) -> dict:
    try:
        text = to_literal(value)
    except Unserializable as exc:
        return {"status": "unserializable_output", "detail": f"returned {exc}"}
    except RecursionError:
        return {"status": "unserializable_output", "detail": "nested too deeply"}
    except MemoryError:
        return {"status": "memory_limit", "detail": "MemoryError while serialising"}
    if len(text) > cap:
        return {"status": "output_limit", "detail": f"return value of {len(text)} characters"}
    return {"status": "returned", "output": text}


class Arcs:
    """Line arcs a->b executed in the solution's own file (negative numbers: entry to and exit from a code object)."""

    def __init__(self):
        self.arcs: set[tuple[int, int]] = set()

    def __call__(self, frame, event, arg):
        if frame.f_code.co_filename != SOLUTION_FILE:
            return None
        first, last = -frame.f_code.co_firstlineno, [-frame.f_code.co_firstlineno]

        def local(frame, event, arg):
            if event == "line":
                self.arcs.add((last[0], frame.f_lineno))
                last[0] = frame.f_lineno
            elif event == "return":
                self.arcs.add((last[0], first))
            return local

        return local

    def strings(self) -> list[str]:
        return [f"{a}->{b}" for a, b in sorted(self.arcs)]


def run_io(job: dict) -> dict:
    namespace, error = load(job["solution"], job["entry_point"])
    if error:
        return error
    args = parse_literal(job["inputs"])  # fresh objects for every test: a mutation cannot leak to the next one
    tracer = Arcs() if job.get("coverage") else None
    try:
        if tracer:
            _settrace(tracer)
        result = namespace[job["entry_point"]](*args)
    except BaseException as exc:
        _settrace(None)
        return _error(exc)
    _settrace(None)
    reply = encode(result, job["output_cap"])
    if tracer:
        reply["branches"] = tracer.strings()
    return reply


def _summary(namespace: dict) -> dict:
    names = {}
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        if _type(value) is types.ModuleType:
            names[name] = "module:" + value.__name__
        elif callable(value):
            names[name] = "call"
        else:
            try:
                names[name] = "value:" + to_literal(value)
            except (Unserializable, RecursionError):
                pass
    return names


def call(function, args: list, kwargs: dict, cap: int) -> tuple[dict, object]:
    """Call a solution function on fresh copies of the arguments: the reply in plain data, and a copy of the
    value returned (what the tests see: equal to parsing the reply's literal)."""
    try:
        result = function(*args, **kwargs)
    except BaseException as exc:
        reply = _error(exc)
        if reply["status"] == "runtime_error":
            reply = {"status": "raised", "type": _type(exc).__name__, "detail": reply["detail"]}
        return reply, None
    reply = encode(result, cap)
    return reply, (copy_plain(result) if reply["status"] == "returned" else None)


def serve(job: dict, job_r: int, res_w: int) -> None:
    namespace, error = load(job["solution"], job.get("entry_point"))
    if error:
        write_frame(res_w, error)
        return
    write_frame(res_w, {"status": "ready", "names": _summary(namespace)})
    while (record := read_frame(job_r)) is not None:
        try:
            args, kwargs = parse_literal(record["args"]), parse_literal(record["kwargs"])
        except BaseException as exc:
            write_frame(res_w, _error(exc))
            continue
        write_frame(res_w, call(namespace[record["name"]], args, kwargs, job["output_cap"])[0])


class _Full(BaseException):
    pass


def replay(job: dict) -> dict:
    namespace, error = load(job["solution"], job.get("entry_point"))
    if error:
        return error
    names, calls, size, cap = _summary(namespace), [], [0], job["output_cap"]

    def recorded(name: str):
        def run(*args, **kwargs):
            record = call_record(name, args, kwargs)  # checks that they are plain data, as the worker does
            reply, value = call(namespace[name], copy_plain(args), copy_plain(kwargs), cap)
            record.update(reply)
            size[0] += sum(_len(v) for v in record.values())
            if size[0] > cap:  # the worker finds the transcript short and judges the tests live instead
                raise _Full
            calls.append(record)
            return value if reply["status"] == "returned" else answer(record)
        return run

    try:
        run_tests(job["tests"], job.get("entry_point"), test_namespace(names, recorded), job["seed"])
    except BaseException:
        pass  # how this run ended does not matter: the worker runs the tests again on the transcript and judges
    return {"status": "transcript", "names": names, "calls": calls}
