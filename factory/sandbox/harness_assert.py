"""Assertion tests (HumanEval's check(candidate), MBPP's asserts) inside the sandbox. Standard library only.

Two modes, one verdict rule: the pass is decided by the trusted worker running the test code itself, on plain
data that came from the child. The child can never say "pass".
  replay  (default) the child runs the solution AND the tests in one process, recording every call of a
          solution function as plain data (name, args, returned literal or raised exception): that transcript is
          its completion message, sent once the last assertion has run. The worker then runs the tests again,
          answering each call from the transcript. A call that does not match the next transcript entry (the
          tests use time, or the solution used the shared `random`, or tampered with the child's run) falls back
          to `live`. A forged transcript buys nothing: its answers are checked by the worker's own assertions,
          exactly as if the solution had returned them. One fork, one message: as fast as an I/O test.
  live    the tests run only in the worker; every call is a round trip to the child. Slower (a round trip per
          call), but the tests never enter the untrusted process: a solution cannot read them (replay lets a
          solution inspect its caller's frame, as every in-process harness does).
Failed, Diverged and the wall-clock alarm are BaseExceptions, so a test's `except Exception:` cannot swallow
them, and the first failure of a run is sticky: swallowing it cannot turn into a pass.
"""

from __future__ import annotations

import builtins
import importlib
import os
import random
import signal
import sys

from harness import parse_literal, to_literal

IO_REPLIES = ("returned", "runtime_error", "memory_limit", "output_limit", "syntax_error", "missing_entry_point",
              "unserializable_output")
_compiled: dict[str, object] = {}


class Failed(BaseException):
    """The child ended the run with a verdict (timeout, memory_limit, ...) while the worker waited on it."""

    def __init__(self, reply: dict):
        super().__init__(reply.get("detail", ""))
        self.reply = reply


class Diverged(BaseException):
    """The worker's run of the tests made a call the transcript does not hold: replay is not possible."""


class _TestsTooLong(BaseException):
    pass


def from_child(reply) -> dict:
    """A failure the child reports about itself; it can never name a pass, a timeout or a sandbox error."""
    if isinstance(reply, dict) and reply.get("status") in IO_REPLIES and reply.get("status") != "returned":
        return {"status": reply["status"], "detail": str(reply.get("detail", ""))[:1000]}
    return {"status": "runtime_error", "detail": "wrote to the harness channel"}


def call_record(name: str, args: tuple, kwargs: dict) -> dict:
    try:
        return {"name": name, "args": to_literal(list(args)), "kwargs": to_literal(kwargs)}
    except Exception as exc:  # the test passed something that is not plain data
        raise TypeError(f"argument of {name} is not plain data: {exc}") from None


def answer(reply: dict):
    """What a call returns to the test code, from the child's reply: the same on both sides of a replay."""
    status = reply.get("status")
    if status == "returned":
        return parse_literal(reply["output"])
    if status == "raised":
        kind = getattr(builtins, str(reply.get("type")), None)
        if isinstance(kind, type) and issubclass(kind, Exception):
            raise kind(str(reply.get("detail", "")))
        raise RuntimeError(str(reply.get("detail", "")))
    raise Failed(from_child(reply))


def test_namespace(names, make_call) -> dict:
    """The tests' globals from the child's summary of the solution's top-level names: functions become calls
    (plain data in, plain data out), stdlib modules are imported afresh, plain values are copied as literals."""
    if not isinstance(names, dict):
        raise Failed(from_child(None))
    namespace = {"__name__": "__check__"}
    for name, kind in names.items():
        if not isinstance(kind, str) or not isinstance(name, str):
            raise Failed(from_child(None))
        if kind == "call":
            namespace[name] = make_call(name)
        elif kind.startswith("module:") and kind[7:] in sys.stdlib_module_names:
            namespace[name] = importlib.import_module(kind[7:])
        elif kind.startswith("value:"):
            namespace[name] = parse_literal(kind[6:])
    return namespace


def compiled(source: str):
    code = _compiled.get(source)
    if code is None:
        if len(_compiled) > 256:
            _compiled.clear()
        code = _compiled[source] = compile(source, "<tests>", "exec")
    return code


def run_tests(source: str, entry: str | None, namespace: dict, seed: int) -> None:
    random.seed(seed)  # tests that draw random inputs (HumanEval/38) draw the same ones on both sides
    exec(compiled(source), namespace)
    if "check" in namespace and entry:
        namespace["check"](namespace[entry])


# ---------------------------------------------------------------------------------------------------------------
# The worker's side.

class _Run:
    """State of one judged run: the first failure sticks, whatever the test code catches afterwards."""

    def __init__(self, child, calls=None):
        self.child, self.calls, self.next, self.failure = child, calls, 0, None

    def call(self, name: str):
        return lambda *args, **kwargs: self._call(name, args, kwargs)

    def _call(self, name, args, kwargs):
        if self.failure is not None:
            raise self.failure
        record = call_record(name, args, kwargs)
        try:
            return answer(self._reply(record))
        except (Failed, Diverged) as exc:
            self.failure = exc
            raise

    def _reply(self, record: dict) -> dict:
        if self.calls is None:  # live: a round trip to the child
            self.child.send(record)
            return self.child.reply()
        entry = self.calls[self.next] if self.next < len(self.calls) else None
        if not isinstance(entry, dict) or any(entry.get(k) != record[k] for k in ("name", "args", "kwargs")):
            raise Diverged
        self.next += 1
        return entry


def run_check(child, case: dict, mode: str) -> dict:
    """Judge one assertion-test run (`mode` replay or live); {"status": "diverged"} asks for a live rerun."""
    cfg = child.cfg
    signal.signal(signal.SIGALRM, _too_long)
    signal.setitimer(signal.ITIMER_REAL, cfg["timeout"] * cfg["wall_factor"] + 2.0)
    try:
        return _check(child, case, mode)
    except _TestsTooLong:
        return {"status": "timeout", "detail": "the tests ran past the wall-clock backstop"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _check(child, case: dict, mode: str) -> dict:
    seed = int.from_bytes(os.urandom(4), "big")
    job = {"mode": mode, "solution": case["solution"], "entry_point": case.get("entry_point"),
           "output_cap": child.cfg["output_cap"]}
    if mode == "replay":
        job.update(tests=case["assert_tests"], seed=seed)
    try:
        child.send(job)
        first = child.reply()
    except Failed as failed:
        return failed.reply
    return judge(first, case, seed, child if mode == "live" else None)


def judge(first, case: dict, seed: int, child=None) -> dict:
    """The verdict: run the tests here on the child's first reply, a transcript (replay: no child to ask) or
    a summary of its names (live: every call asks `child`). {"status": "diverged"} asks for a live rerun."""
    if not isinstance(first, dict) or first.get("status") != ("transcript" if child is None else "ready"):
        return from_child(first)
    calls = first.get("calls") if child is None else None
    if child is None and not isinstance(calls, list):
        return from_child(None)
    run = _Run(child, calls)
    try:
        try:
            namespace = test_namespace(first.get("names"), run.call)
            run_tests(case["assert_tests"], case.get("entry_point"), namespace, seed)
        finally:
            if run.failure is not None:
                raise run.failure
    except Diverged:
        return {"status": "diverged"}
    except Failed as failed:
        return failed.reply
    except AssertionError as exc:
        return {"status": "wrong_answer", "detail": _where(exc)}
    except Exception as exc:
        return {"status": "runtime_error", "detail": f"{type(exc).__name__}: {str(exc)[:500]}"}
    return {"status": "pass"}


def _too_long(*_):
    raise _TestsTooLong


def _where(exc: AssertionError) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    line = tb.tb_lineno if tb is not None else "?"
    return f"AssertionError at test line {line}" + (f": {exc}" if str(exc) else "")
