"""Sandboxed execution of untrusted solutions: `make_sandbox(cfg.sandbox)` gives a context manager whose
`run(cases)` returns one list of verdicts per case. See docs/sandbox.md and sandbox_image/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from factory.sandbox.verdicts import STATUSES, Verdict, outputs_equal


@dataclass
class IOTest:
    inputs: str     # literal list of positional args
    expected: str | None = None   # literal expected value; None: record what it returns (status `returned`)


@dataclass
class Case:
    id: str
    solution: str
    entry_point: str | None = None
    tests: list[IOTest] = field(default_factory=list)
    assert_tests: str | None = None    # source defining check(candidate) (HumanEval) or bare asserts (MBPP)


def make_sandbox(sandbox_cfg) -> "Sandbox":
    """Build the executor named by `sandbox_cfg.kind` (local | docker); use it as a context manager."""
    kind = sandbox_cfg.get("kind")
    if kind == "local":
        from factory.sandbox.local import LocalSandbox

        return LocalSandbox(sandbox_cfg)
    if kind == "docker":
        from factory.sandbox.docker import DockerSandbox

        return DockerSandbox(sandbox_cfg)
    raise ValueError(f"sandbox.kind must be 'local' or 'docker', got {kind!r}")


def ray_resources(sandbox_cfg) -> dict:
    """What a stage that runs a sandbox asks Ray for: a CPU per warm worker it will start (`workers: null` starts
    one per CPU it was given, so one) and one unit of the custom resource that places it on CPU nodes."""
    return {"num_cpus": int(sandbox_cfg.get("workers") or 1), sandbox_cfg.get("ray_resource") or "sandbox": 1}


from factory.sandbox.base import Sandbox, SandboxUnavailable  # noqa: E402  (base imports Case from here)

__all__ = ["STATUSES", "Case", "IOTest", "Sandbox", "SandboxUnavailable", "Verdict", "make_sandbox", "outputs_equal", "ray_resources"]
