"""The local executor: warm harness workers inside bubblewrap, no Docker needed.

Each worker runs in its own bwrap: new PID, network, IPC and UTS namespaces (no network at all), a root file
system holding only /usr, the interpreter's prefix and the harness (read-only) plus a private writable /tmp, an
empty environment (bwrap itself starts with none, so /proc/1/environ is empty too), stdin from /dev/null.
As root, each worker's children drop to a uid of their own, so they cannot signal or trace the worker and
RLIMIT_NPROC binds them; a pids cgroup per worker (v1 or v2, where writable) caps the whole tree as well.

Where bubblewrap is missing (or `isolation: unshare`), util-linux `unshare` builds the same confinement
(unshare_setup.sh). `allow_unsafe: true` with neither runs the harness with no isolation at all (limits only)
and warns.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from factory.sandbox.base import Sandbox, SandboxUnavailable, WorkerLost, WorkerProcess

log = logging.getLogger(__name__)
HARNESS_DIR = Path(__file__).resolve().parent
INSIDE = "/sandbox/harness"


class LocalSandbox(Sandbox):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.python = cfg.get("python") or os.path.realpath(sys.executable)
        self.root = os.geteuid() == 0
        self.cgroups: dict[int, Path] = {}
        self.isolation = _isolation(str(cfg.get("isolation", "auto")))
        if self.isolation == "unshare":  # the mount point of each worker's new root (empty on the host)
            self.new_root = tempfile.mkdtemp(prefix="factory-unshare-")
        if self.isolation is None:
            if not cfg.get("allow_unsafe", False):
                raise SandboxUnavailable("neither bubblewrap (bwrap) nor util-linux unshare/setpriv found: "
                                         "`apt-get install bubblewrap`, use sandbox=docker, or opt out of isolation "
                                         "with sandbox.allow_unsafe=true")
            log.warning("sandbox.allow_unsafe=true and no bubblewrap or unshare: solutions run WITHOUT isolation "
                        "(no namespaces, host file system and network visible); only resource limits apply")
            self.unsafe_dir = tempfile.mkdtemp(prefix="factory-sandbox-")
        try:
            self._worker(0)  # fail now, with bwrap's own message, if isolation cannot work
        except WorkerLost as exc:
            self.close()
            raise SandboxUnavailable(f"the local sandbox could not start a worker: {exc}") from None

    def _start(self, slot: int) -> WorkerProcess:
        if self.isolation is None:
            argv = [self.python, "-I", "-B", str(HARNESS_DIR / "harness.py"), "worker"]
            return WorkerProcess(argv, {}, self.limits_for(slot, uid=None, workdir=self.unsafe_dir, private_pids=False))
        uid = random.randrange(100_000, 160_000) if self.root else None
        if self.isolation == "unshare":
            argv = self._unshare_argv()
        else:
            argv = self._bwrap_argv() + [self.python, "-I", "-B", f"{INSIDE}/harness.py", "worker"]
        procs = self._cgroup(slot)
        if procs is not None:  # join the cgroup before bwrap exists, so every process it starts is counted
            argv = ["/bin/sh", "-c", 'echo $$ > "$1" && shift && exec "$@"', "sh", str(procs)] + argv
        return WorkerProcess(argv, {}, self.limits_for(slot, uid=uid, workdir="/tmp", private_pids=True))

    def _prefixes(self) -> list[str]:
        """The interpreter's prefixes outside /usr: bound read-only into the sandbox."""
        prefixes = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
                    str(Path(self.python).resolve().parent.parent)}
        return sorted(p for p in prefixes if not p.startswith("/usr"))

    def _unshare_argv(self) -> list[str]:
        flags = ["--mount", "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts"]
        if not self.root:
            flags += ["--user", "--map-root-user"]
        # If this process dies, unshare gets SIGKILL (pdeathsig) and --kill-child takes the namespace with it.
        return ["/usr/bin/env", "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/tmp", "LANG=C.UTF-8",
                shutil.which("setpriv"), "--pdeathsig", "KILL", shutil.which("unshare"), *flags,
                "/bin/sh", str(HARNESS_DIR / "unshare_setup.sh"), self.new_root, str(HARNESS_DIR),
                str(int(self.cfg.get("tmp_mb", 64))), self.python, *self._prefixes()]

    def _bwrap_argv(self) -> list[str]:
        tmp_mb = int(self.cfg.get("tmp_mb", 64))
        argv = [shutil.which("bwrap"), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--new-session", "--die-with-parent", "--clearenv",
                "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8"]
        for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"):
            if os.path.islink(top):
                argv += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                argv += ["--ro-bind", top, top]
        for name in ("ld.so.cache", "ld.so.conf", "localtime", "passwd", "group", "nsswitch.conf"):
            argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for prefix in self._prefixes():
            # Parents bwrap creates itself are 0700: a child with its own uid could not reach the stdlib.
            for parent in reversed(Path(prefix).parents[:-1]):
                argv += ["--perms", "0755", "--dir", str(parent)]
            argv += ["--ro-bind", prefix, prefix]
        argv += ["--ro-bind", str(HARNESS_DIR), INSIDE, "--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", str(tmp_mb * 1024 * 1024), "--tmpfs", "/tmp", "--chdir", "/tmp"]
        if self.root:  # the worker keeps only what it needs to give each child a uid of its own
            argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            argv += ["--unshare-user"]
        return argv

    def _cgroup(self, slot: int) -> Path | None:
        """A pids cgroup for worker `slot` (v1 or v2); None where the hierarchy is not writable."""
        if not self.root:
            return None
        name = f"factory-sandbox/{os.getpid()}-{id(self) % 100000}-{slot}"
        limit = str(int(self.cfg.get("max_processes", 32)) + 8)
        for base, enable in ((Path("/sys/fs/cgroup/pids"), None), (Path("/sys/fs/cgroup"), "+pids")):
            if not (base / "cgroup.procs").exists() or (enable and not (base / "cgroup.subtree_control").exists()):
                continue
            try:
                if enable:
                    (base / "cgroup.subtree_control").write_text(enable)
                    (base / "factory-sandbox").mkdir(exist_ok=True)
                    (base / "factory-sandbox" / "cgroup.subtree_control").write_text(enable)
                path = base / name
                path.mkdir(parents=True, exist_ok=True)
                (path / "pids.max").write_text(limit)
                self.cgroups[slot] = path
                return path / "cgroup.procs"
            except OSError as exc:
                log.debug("no pids cgroup under %s: %s", base, exc)
        log.warning("no writable pids cgroup: the process limit rests on RLIMIT_NPROC with a uid per worker")
        return None

    def close(self) -> None:
        super().close()
        for path in list(self.cgroups.values()):
            try:
                path.rmdir()
            except OSError:
                pass
        self.cgroups.clear()
        for folder in (getattr(self, "unsafe_dir", None), getattr(self, "new_root", None)):
            if folder:
                shutil.rmtree(folder, ignore_errors=True)


def _isolation(wanted: str) -> str | None:
    """bwrap or unshare (whichever `wanted` names, or the first found for auto); None if neither is here."""
    if wanted not in ("auto", "bwrap", "unshare"):
        raise ValueError(f"sandbox.isolation must be auto, bwrap or unshare, got {wanted!r}")
    have = {"bwrap": shutil.which("bwrap") is not None,
            "unshare": all(shutil.which(tool) for tool in ("unshare", "setpriv", "pivot_root", "mount"))}
    for name in (("bwrap", "unshare") if wanted == "auto" else (wanted,)):
        if have[name]:
            return name
    if wanted != "auto":
        raise SandboxUnavailable(f"sandbox.isolation={wanted}, but {wanted} is not installed here")
    return None
