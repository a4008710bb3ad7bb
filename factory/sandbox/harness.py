"""The code that runs inside the sandbox (bubblewrap or a container). Standard library only: it is copied into
the Docker image as is, and the host imports its literal helpers.

Roles (argv[1]):
  worker  a warm, trusted process. It reads framed requests from the host on stdin and answers on stdout. It
          never runs untrusted code itself: for every execution it forks a child (pre-forked while idle, so the
          fork is off the critical path) that drops privileges, sets limits, runs the solution and sends back
          plain data only. The worker enforces CPU time (polling the child's /proc stat), a wall-clock backstop
          and the output cap from outside, then kills every process left in its PID namespace.
  init    PID 1 of the unshare fallback: starts the worker and reaps orphans.
  reaper  PID 1 of a Docker container: reaps orphans, exits when no worker has been attached for a while, so
          a container whose host crashed removes itself (it runs with auto-remove).

Assertion tests (HumanEval's check(candidate)) are judged by the worker, never by the child: a completion
message from a process that ran untrusted code can always be forged (the code can read the process's memory).
The child sends plain data only (a transcript of the solution's calls, or one answer per call); the worker runs
the test code on it and a pass is the worker seeing check() return. See harness_assert.py (replay and live).
"""

from __future__ import annotations

import ast
import json
import os
import struct
import sys

_exit, _write, _read, _getpid = os._exit, os.write, os.read, os.getpid  # captured before untrusted code runs
_type, _repr, _len, _sorted = type, repr, len, sorted
SOLUTION_FILE = "/sandbox/solution.py"
PLAIN = (type(None), bool, int, float, str, bytes, list, tuple, dict, set, frozenset)


# ---------------------------------------------------------------------------------------------------------------
# Plain-data literals: the only thing that crosses from the untrusted child to anyone else.

class Unserializable(Exception):
    pass


def to_literal(value, depth: int = 0) -> str:
    """Canonical Python source for plain data; exact types only, so subclasses (always-equal objects) fail."""
    t = _type(value)
    if depth > 100:
        raise Unserializable("nested deeper than 100")
    if t is float:
        if value != value:
            return "float('nan')"
        if value in (float("inf"), float("-inf")):
            return "float('inf')" if value > 0 else "-float('inf')"
        return float.__repr__(value)
    if t in (type(None), bool, int, str, bytes):
        return {bool: bool.__repr__, int: int.__repr__, str: str.__repr__, bytes: bytes.__repr__}.get(t, _repr)(value)
    if t is list:
        return "[" + ", ".join(to_literal(v, depth + 1) for v in value) + "]"
    if t is tuple:
        items = [to_literal(v, depth + 1) for v in value]
        return "(" + ", ".join(items) + ("," if _len(items) == 1 else "") + ")"
    if t in (set, frozenset):
        items = _sorted(to_literal(v, depth + 1) for v in value)
        return ("{" + ", ".join(items) + "}") if items else "set()"
    if t is dict:
        return "{" + ", ".join(f"{to_literal(k, depth + 1)}: {to_literal(v, depth + 1)}" for k, v in value.items()) + "}"
    raise Unserializable(f"{t.__module__}.{t.__qualname__}")


def copy_plain(value):
    """A fresh copy of data that to_literal accepted; equal to parse_literal(to_literal(value)), without a parse."""
    t = _type(value)
    if t is list:
        return [copy_plain(v) for v in value]
    if t is tuple:
        return tuple(copy_plain(v) for v in value)
    if t is dict:
        return {copy_plain(k): copy_plain(v) for k, v in value.items()}
    if t in (set, frozenset):
        return t(copy_plain(v) for v in value)
    return value  # immutable: None, bool, int, float, str, bytes


def parse_literal(text: str):
    """Inverse of to_literal; also accepts any ast.literal_eval literal. Raises ValueError on anything else."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"not a literal: {exc}") from None
    return _eval(tree)


def _eval(node):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id == "float" and len(node.args) == 1 and isinstance(node.args[0], ast.Constant):
            if str(node.args[0].value).strip().lower() in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
                return float(node.args[0].value)
        if node.func.id in ("set", "frozenset", "tuple", "list") and not node.args:
            return {"set": set, "frozenset": frozenset, "tuple": tuple, "list": list}[node.func.id]()
        raise ValueError(f"not a literal: call of {node.func.id}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand)
        if _type(value) not in (int, float, complex):
            raise ValueError("not a literal: sign of a non-number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Tuple):
        return tuple(_eval(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [_eval(e) for e in node.elts]
    if isinstance(node, ast.Set):
        return {_eval(e) for e in node.elts}
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ValueError("not a literal: ** in a dict")
        return {_eval(k): _eval(v) for k, v in zip(node.keys, node.values)}
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"not a literal: {exc}") from None


# ---------------------------------------------------------------------------------------------------------------
# Framing: 4-byte big-endian length + JSON, on raw fds (no buffered read-ahead of the next request).

def write_frame(fd: int, obj) -> None:
    data = json.dumps(obj).encode()
    data = struct.pack(">I", _len(data)) + data
    while data:
        data = data[_write(fd, data):]


def read_exact(fd: int, n: int) -> bytes | None:
    buf = b""
    while _len(buf) < n:
        chunk = _read(fd, n - _len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(fd: int):
    head = read_exact(fd, 4)
    if head is None:
        return None
    body = read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def split_frames(buf: bytes) -> tuple[list, bytes]:
    frames = []
    while _len(buf) >= 4:
        size = struct.unpack(">I", buf[:4])[0]
        if _len(buf) < 4 + size:
            break
        frames.append(json.loads(buf[4:4 + size]))
        buf = buf[4 + size:]
    return frames, buf


if __name__ == "__main__":
    sys.modules["harness"] = sys.modules["__main__"]  # the siblings import these helpers as `harness`
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from harness_child import child_main  # noqa: E402  (stdlib-only sibling, baked into the image with this file)
    from harness_worker import init_main, reaper_main, worker_main  # noqa: E402

    {"worker": lambda: worker_main(child_main), "reaper": reaper_main, "init": init_main}[sys.argv[1]]()
