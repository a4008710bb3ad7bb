"""A sandbox's startup check: known-good and known-bad cases, judged before any real solution runs.

Why: a sandbox that starts but misjudges (a pod without what bubblewrap needs falling back to something broken, a
worker that cannot import the harness) would turn every solution into `sandbox_error` or, worse, a wrong verdict,
and the executions stage would store that as data. So the executions stage (and deploy/preflight.py on each
sandbox node) runs `check(box)` once per worker and refuses to start when the sandbox does not behave, with an
error naming what is missing.

Cases: a correct solution must `pass`; a wrong one must be `wrong_answer`; one that raises must be
`runtime_error`; and, unless isolation was explicitly turned off (`allow_unsafe`), a solution must not see a file
this process just created in the host's /tmp (the sandbox gives each worker a private /tmp).
"""

from __future__ import annotations

import os
import tempfile

from factory.sandbox import Case, IOTest

GOOD = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"
RAISES = "def add(a, b):\n    raise RuntimeError('boom')\n"
PEEK = "def add(a, b):\n    import os\n    return os.path.exists({path!r})\n"

# Messages of bubblewrap (and the kernel) when a pod lacks what it needs -> the setting that provides it.
HINTS = (
    ("No permissions to creating new namespace", "user namespaces (the pod needs unprivileged user namespaces: "
     "kernel.unprivileged_userns_clone=1, an AppArmor profile that allows userns, or CAP_SYS_ADMIN)"),
    ("Creating new namespace failed", "namespaces (seccomp or AppArmor blocks unshare/clone: see "
     "deploy/kuberay/raycluster.yaml, securityContext of the sandbox group)"),
    ("Can't mount proc", "a mountable /proc (Kubernetes masks /proc: securityContext.procMount: Unmasked, which "
     "needs the pod's own user namespace, hostUsers: false)"),
    ("setting up uid map", "uid mapping in a user namespace (newuidmap, or a pod with hostUsers: false)"),
    ("Operation not permitted", "a permission the container lacks (CAP_SYS_ADMIN, seccomp=Unconfined or "
     "AppArmor=unconfined for the sandbox container)"),
)


class SandboxSelfCheckFailed(RuntimeError):
    """The sandbox started but does not judge known cases correctly; the message says which and why."""


def hint(detail: str) -> str:
    for needle, what in HINTS:
        if needle in detail:
            return f"missing: {what}"
    return "see docs/sandbox.md and docs/deploy.md (sandbox pods)"


def cases(isolated: bool) -> tuple[list[Case], list[str], str | None]:
    """The check's cases, the status each must get, and the host file the peek case looks for."""
    test = [IOTest("[2, 3]", "5")]
    out = [Case("selfcheck/good", GOOD, "add", test), Case("selfcheck/wrong", WRONG, "add", test),
           Case("selfcheck/raises", RAISES, "add", test)]
    want = ["pass", "wrong_answer", "runtime_error"]
    marker = None
    if isolated:
        fd, marker = tempfile.mkstemp(prefix="factory-selfcheck-", dir="/tmp")
        os.close(fd)
        out.append(Case("selfcheck/peek", PEEK.format(path=marker), "add", [IOTest("[2, 3]", "False")]))
        want.append("pass")
    return out, want, marker


def check(box, isolated: bool = True) -> list[str]:
    """Run the known cases in `box`; returns one line per case, raises SandboxSelfCheckFailed if one misbehaves."""
    todo, want, marker = cases(isolated)
    try:
        runs = box.run(todo)
    finally:
        if marker:
            os.unlink(marker)
    lines, problems = [], []
    for case, expected, verdicts in zip(todo, want, runs):
        got = verdicts[0].status if verdicts else "no verdict"
        detail = verdicts[0].detail if verdicts else ""
        lines.append(f"{case.id}: {got} (want {expected})")
        if got == expected:
            continue
        if case.id == "selfcheck/peek":
            problems.append(f"{case.id}: a solution sees the host's /tmp ({got}): file system isolation is missing")
        else:
            problems.append(f"{case.id}: {got}, expected {expected}: {detail[-300:]} [{hint(detail)}]")
    if problems:
        raise SandboxSelfCheckFailed("sandbox self-check failed, refusing to judge solutions: " + "; ".join(problems))
    return lines


def checked(box, sandbox_cfg):
    """`box` after it passed `check` (closed, and the error raised, when it did not)."""
    try:
        check(box, isolated=not sandbox_cfg.get("allow_unsafe", False))
    except BaseException:
        box.close()
        raise
    return box
