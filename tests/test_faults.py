"""Faults: a Ray worker killed mid-stage, the driver killed mid-run, a full disk, a file where a folder should be.

What must hold every time: no row lost or duplicated, a rerun resumes and ends equal to an uninterrupted run row
for row, and a shard whose write failed is never marked complete. Everything is real: Ray, the sandbox, Parquet,
the CLI; the "model" is the scripted OpenAI-compatible server (tests/scripted_model.py), one fresh server per
run, so two runs see the same replies.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from factory.config import STAGES, load_config
from factory.executors import ShardFailed
from factory.executors.local import LocalExecutor
from factory.executors.shards import is_done, read_stats, run_shard, shard_names, stage_done, write_shard
from factory.schema import TESTS
from factory.stages.executions import Executions
from factory.stages.pairs import SFTData
from factory.stages.verification import Verification
from tests.report.conftest import Written

ROOT = Path(__file__).resolve().parents[1]


def _problem(i: int, pad: int = 0) -> dict:
    body = "return sum(x for x in nums if x % 2 == 0)"
    wrong = "return sum(nums)"
    noise = random.Random(i).randbytes(pad).hex()   # incompressible text, to fill a disk
    return {"problem_id": f"p{i:03d}", "problem": f"Sum the even numbers ({i}).{noise}", "entry_point": "f",
            "signature": "def f(nums: list[int]) -> int:\n    ...", "params": ["nums"],
            "solutions": [{"solution_id": f"p{i:03d}/s0", "code": f"def f(nums):\n    {body}", "reply": "a"},
                          {"solution_id": f"p{i:03d}/s1", "code": f"def f(nums):\n    {wrong}", "reply": "b"}],
            "test_inputs": ["[[1, 2, 3, 4]]", "[[]]", "[[2, 2]]", "[[5]]"],
            "input_kinds": ["general", "corner", "general", "corner"],
            "output_samples": [["6", "6"], ["0", "0"], ["4", "4"], ["0", "0"]],
            "output_reasoning": [["r", "r"]] * 4, "expected": ["6", "0", "4", "0"], "vote_share": [1.0] * 4}


def _write_tests(folder: Path, shards: int, per_shard: int, pad: int = 0) -> list[str]:
    names = []
    for s in range(shards):
        names.append(f"shard-{s:05d}")
        rows = [_problem(s * per_shard + j, pad) for j in range(per_shard)]
        write_shard(Written("tests", TESTS), folder, names[-1], rows, [], len(rows), 0.0)
    return names


def _killing(stage, victim: str, flag: Path):
    """The same stage, except that the first worker to see row `victim` kills its own process (SIGKILL: no
    cleanup, like an OOM kill or a lost node). The class is built here so Ray pickles it by value."""
    cls = type(stage)

    def process(self, rows):
        if any(r.get("problem_id") == victim for r in rows):
            try:
                os.close(os.open(flag, os.O_CREAT | os.O_EXCL))   # only the first attempt dies
                os.kill(os.getpid(), signal.SIGKILL)
            except FileExistsError:
                pass
        yield from cls.process(self, rows)

    stage.__class__ = type(cls.__name__, (cls,), {"process": process})
    return stage


def _rows(folder: Path, key: str = "problem_id") -> list[dict]:
    """Rows sorted by id; a verdict's cpu_ms is a measurement, not an outcome, so it is left out of comparisons."""
    rows = pq.read_table(folder).to_pylist()
    for r in rows:
        for v in r.get("verdicts") or []:
            v.pop("cpu_ms")
    return sorted(rows, key=lambda r: (r[key], str(r.get("role")), str(r.get("prompt")), str(r.get("chosen"))))


@pytest.mark.slow
def test_worker_killed_mid_stage_loses_and_duplicates_nothing(tmp_path, ray_local):
    """Kill the executions actor (sandbox) and an sft task mid-stage: Ray restarts them, the shards are redone,
    and the outputs equal an in-process run's row for row."""
    from factory.executors.ray_data import RayExecutor

    cfg = load_config(["verify.coverage=false"])
    shards = _write_tests(tmp_path / "in", shards=3, per_shard=4)

    def chain(out: Path, kill: bool):
        stages = [Executions(sandbox=cfg.sandbox), Verification(verify=cfg.verify, sandbox=cfg.sandbox), SFTData()]
        if kill:
            _killing(stages[0], "p005", tmp_path / "killed-executions")
            _killing(stages[2], "p009", tmp_path / "killed-sft")
        dirs = [tmp_path / "in", out / "executions", out / "verification"]
        return [(s, d, out / s.name) for s, d in zip(stages, dirs)]

    RayExecutor(cfg.cluster).run_chain(chain(tmp_path / "ray", kill=True), shards)
    assert (tmp_path / "killed-executions").exists() and (tmp_path / "killed-sft").exists()   # both died once
    LocalExecutor().run_chain(chain(tmp_path / "local", kill=False), shards)
    for stage in ("executions", "verification"):
        got = _rows(tmp_path / "ray" / stage)
        assert [r["problem_id"] for r in got] == [f"p{i:03d}" for i in range(12)], stage   # none lost, none twice
        assert got == _rows(tmp_path / "local" / stage), stage
    assert _rows(tmp_path / "ray" / "sft") == _rows(tmp_path / "local" / "sft")
    assert all(is_done(tmp_path / "ray" / "sft", s) for s in shards)
    assert not list((tmp_path / "ray").rglob("*.tmp"))


def _generate(run_dir: Path, url: str, ray_tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmp)}   # this run's own Ray processes, findable by path
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen([sys.executable, "-m", "factory.cli", "generate", "llm=openai", f"llm.base_url={url}",
                             "llm.api_key_env=null", "model=tiny", "num_problems=12", "shard_size=2",
                             "wandb.enabled=false", f"run_dir={run_dir}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _kill_run(proc: subprocess.Popen, ray_tmp: Path) -> None:
    """SIGKILL the driver's process group, then any Ray process of this run that left it (by its temp dir)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if str(ray_tmp) in args:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def ray_tmp():
    """Fresh short folders for the runs' Ray files (socket paths must stay below 108 bytes), removed after."""
    made = []

    def make() -> Path:
        made.append(Path(tempfile.mkdtemp(prefix="rk", dir="/tmp")))
        return made[-1]

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_driver_killed_mid_run_resumes_to_the_same_rows(tmp_path, ray_tmp):
    from tests.scripted_model import ScriptedServer

    def finish(run_dir: Path) -> None:
        server = ScriptedServer()
        try:
            proc = _generate(run_dir, server.url, ray_tmp())
            out, _ = proc.communicate(timeout=900)
            assert proc.returncode == 0, out[-3000:]
        finally:
            server.close()

    finish(tmp_path / "clean")
    killed = tmp_path / "killed"
    server, killed_tmp = ScriptedServer(), ray_tmp()
    try:
        proc = _generate(killed, server.url, killed_tmp)
        deadline = time.time() + 600
        # Mid-run: some solutions shards done, the run not finished.
        while not list((killed / "_meta" / "solutions" / "completions").glob("shard-*")):
            assert proc.poll() is None and time.time() < deadline, "run ended before it could be killed"
            time.sleep(0.2)
        _kill_run(proc, killed_tmp)
    finally:
        server.close()
    assert not stage_done(killed / "dpo")
    finish(killed)
    for stage in STAGES:
        key = "problem_id"
        clean, resumed = _rows(tmp_path / "clean" / stage, key), _rows(killed / stage, key)
        assert resumed == clean, stage
    assert pq.read_table(killed / "verification").num_rows > 0


def test_full_disk_fails_the_shard_and_leaves_it_incomplete(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)")
    try:
        _write_tests(tmp_path / "in", shards=1, per_shard=20, pad=4096)   # ~160 kB of output: too big
        stage = Executions(sandbox=load_config([]).sandbox)
        # the executor reports the cause in one line (ShardFailed), the full traceback in the shard's error log
        with pytest.raises(ShardFailed, match=r"OSError: cannot write .*shard-00000.*No space left"):
            LocalExecutor().run_chain([(stage, tmp_path / "in", disk / "executions")], ["shard-00000"])
        assert not is_done(disk / "executions", "shard-00000")
        # no half shard, no stray .tmp (only the error log, if it fit)
        assert not [p for p in disk.rglob("*") if p.is_file() and p.parent.name != "errors"]
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_file_where_a_folder_should_be(tmp_path):
    shards = _write_tests(tmp_path / "in", shards=1, per_shard=2)
    out = tmp_path / "executions"
    stats_dir = tmp_path / "_meta" / "executions" / "stats"
    stats_dir.parent.mkdir(parents=True)
    stats_dir.write_text("not a folder")
    stage = Executions(sandbox=load_config([]).sandbox)
    stage.setup()
    try:
        with pytest.raises(OSError, match="stats"):
            run_shard(stage, tmp_path / "in", out, shards[0])
        assert not is_done(out, shards[0]) and shard_names(out) == ["shard-00000"]   # data, but no marker
        stats_dir.unlink()
        stats = run_shard(stage, tmp_path / "in", out, shards[0])   # the rerun redoes the shard
    finally:
        stage.teardown()
    assert stats["rows_out"] == 2 and "skipped" not in stats and is_done(out, shards[0])


def test_run_dir_that_is_a_file_is_a_clear_error(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.write_text("a file")
    out = subprocess.run([sys.executable, "-m", "factory.cli", "generate", "model=tiny", f"run_dir={run_dir}"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 2 and str(run_dir) in out.stderr and "Traceback" not in out.stderr
    assert run_dir.read_text() == "a file"


def _slow(code: str, entry: str) -> str:
    """The same solution, 0.3 s slower per call (asleep: no CPU), so a kill lands mid-case."""
    return f"{code}\n_fast = {entry}\ndef {entry}(*args):\n    import time\n    time.sleep(0.3)\n    return _fast(*args)\n"


def _killing_worker_mid_case(stage: Executions, after: float = 0.5) -> Executions:
    """The same stage, except that `after` seconds into its first batch its first sandbox worker is killed from
    outside (SIGKILL from this process, as the OOM killer or a lost node would), while the first case runs."""
    cls = type(stage)

    def process(self, rows):
        if not getattr(self, "_killed", False):
            self._killed = True
            pid = self._box._worker(0).proc.pid
            threading.Thread(target=lambda: (time.sleep(after), os.kill(pid, signal.SIGKILL)), daemon=True).start()
        yield from cls.process(self, rows)

    stage.__class__ = type(cls.__name__, (cls,), {"process": process})
    return stage


def _verify(tmp_path: Path, name: str, kill: bool, *overrides: str) -> dict:
    from tests.verify import humaneval as he

    row = he.tests_row("HumanEval/0", [None, "less_equal", "always_true", "self_pairs"])
    row["solutions"][0]["code"] = _slow(row["solutions"][0]["code"], row["entry_point"])
    write_shard(Written("tests", TESTS), tmp_path / "in", "shard-00000", [row], [], 1, 0.0)
    cfg = load_config(["sandbox.workers=1", "verify.outputs=predicted", *overrides])
    executions = Executions(sandbox=cfg.sandbox)
    if kill:
        _killing_worker_mid_case(executions)
    out = tmp_path / name
    LocalExecutor().run_chain([(executions, tmp_path / "in", out / "executions"),
                               (Verification(verify=cfg.verify, sandbox=cfg.sandbox),
                                out / "executions", out / "verification")], ["shard-00000"])
    (result,) = pq.read_table(out / "verification").to_pylist()
    return result


def test_a_sandbox_worker_killed_mid_case_changes_no_chosen_or_rejected_solution(tmp_path):
    """Retried on a fresh worker: the same sets as an undisturbed run. With no retry left, the killed case is
    `infra_error`: its solution is neither chosen nor rejected (no SFT or DPO row rests on it), and the fault is
    counted in the executions stage's stats."""
    calm = _verify(tmp_path, "calm", kill=False)
    assert calm["chosen_solution_ids"] == ["HumanEval_0/s0", "HumanEval_0/s1"]
    assert calm["rejected_solution_ids"] == ["HumanEval_0/s2", "HumanEval_0/s3"]

    retried = _verify(tmp_path, "retried", kill=True)
    assert (retried["chosen_solution_ids"], retried["rejected_solution_ids"]) == \
        (calm["chosen_solution_ids"], calm["rejected_solution_ids"])
    assert [v["status"] for v in retried["verdicts"]] == [v["status"] for v in calm["verdicts"]]

    spent = _verify(tmp_path, "spent", True, "sandbox.retries=0")
    killed = [v for v in spent["verdicts"] if v["solution_id"] == "HumanEval_0/s0"]
    assert {v["status"] for v in killed} == {"infra_error"}                 # not a fail
    assert spent["trusted"] and spent["chosen_solution_ids"] == ["HumanEval_0/s1"]
    assert spent["rejected_solution_ids"] == calm["rejected_solution_ids"]   # s0 in neither
    (stats,) = read_stats(tmp_path / "spent" / "executions")
    assert stats["metrics"]["infra_errors"] == len(killed) == 7
    assert read_stats(tmp_path / "calm" / "executions")[0]["metrics"]["infra_errors"] == 0


def test_a_problem_no_solution_of_which_could_be_scored_is_untrusted_as_infra_error():
    from factory.verify.rules import decide, infra_solutions

    verdicts = [{"solution_id": s, "test_index": 0, "status": st} for s, st in
                (("a", "infra_error"), ("b", "pass"), ("c", "wrong_answer"), ("d", "sandbox_error"))]
    assert infra_solutions(verdicts) == {"a", "d"}
    d = decide(["a", "b", "c", "d"], [0.0, 1.0, 0.0, 0.0], unscored={"a", "d"})
    assert (d.trusted, d.chosen, d.rejected) == (True, ["b"], ["c"])
    d = decide(["a", "d"], [0.0, 0.0], unscored={"a", "d"})
    assert (d.trusted, d.reason, d.chosen, d.rejected) == (False, "infra_error", [], [])
    d = decide(["a", "c"], [0.0, 0.0], rule="relaxed", tau=0.5, rejected="lowest", unscored={"a"})
    assert d.rejected == ["c"]
