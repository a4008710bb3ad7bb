"""A real multi-node Ray cluster on this machine: stage placement by resources, and `ray job submit` through
deploy/submit.sh. Nodes: a head (1 CPU, runs drivers), a "gpu" node (fake GPU: Ray lets a node declare GPUs it
does not have), a "sandbox" node offering the custom `sandbox` resource. LLM calls go to the scripted
OpenAI-compatible server (a model that writes working code), so the run yields real verdicts."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.deploy.local_cluster import LocalCluster

ROOT = Path(__file__).resolve().parents[2]
LLM_STAGES = {"problems", "signatures", "solutions", "tests"}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster()
    try:
        c.start_head(num_cpus=1)
        # cluster=remote streams the stages, so every stage's actor pool holds its resources at once: four LLM
        # stages (one fake GPU each), executions and verification (one `sandbox` each).
        c.add_node("gpu", num_cpus=4, num_gpus=4)
        c.add_node("sandbox", num_cpus=3, resources={"sandbox": 2})
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def head_only():
    """`ray start --head` alone, offering the sandbox resource. Apart from the multi-node cluster because nodes on
    one machine share the session folder, where each node's runtime-env agent unpacks the job's working_dir into
    the same path: a second node's unpacking can pull files away under the running driver."""
    c = LocalCluster()
    try:
        c.start_head(num_cpus=4, resources={"sandbox": 2})
        yield c
    finally:
        c.stop()


def _llm(server, **extra):
    return ["llm=openai", f"llm.base_url={server.url}", "llm.api_key_env=null", "model=tiny", "num_problems=12",
            "shard_size=4", "wandb.enabled=false", *[f"{k}={v}" for k, v in extra.items()]]


def test_each_stage_lands_only_on_nodes_offering_what_it_asked_for(cluster, scripted_server, tmp_path):
    probes = tmp_path / "probes"
    probes.mkdir()
    run = subprocess.run([sys.executable, str(ROOT / "tests/deploy/placement_driver.py"), str(probes), "3",
                          *_llm(scripted_server, **{"llm.num_gpus": 1}), f"run_dir={tmp_path / 'run'}",
                          "cluster=remote", f"cluster.address={cluster.address}"],
                         capture_output=True, text=True, timeout=900, cwd=ROOT, env=cluster.env)
    assert run.returncode == 0, run.stderr[-4000:]
    nodes = json.loads((probes / "nodes.json").read_text())
    gpu_node = next(n for n, r in nodes.items() if r.get("GPU"))
    sandbox_node = next(n for n, r in nodes.items() if r.get("sandbox"))
    records = [json.loads(l) for p in probes.glob("*.jsonl") for l in p.read_text().splitlines()]
    by_stage: dict[str, set] = {}
    for rec in records:
        by_stage.setdefault(rec["stage"], set()).add(rec["node"])
        offered = nodes[rec["node"]]
        for res, amount in rec["asked"].items():
            key = {"num_cpus": "CPU", "num_gpus": "GPU"}.get(res, res)
            assert not amount or offered.get(key, 0) >= amount, (rec, offered)
            assert not amount or rec["assigned"].get(key, 0) >= amount, rec   # Ray reserved it for this worker
    assert LLM_STAGES | {"executions", "verification", "dedup", "sft", "dpo"} <= by_stage.keys()
    for stage in LLM_STAGES:
        assert by_stage[stage] == {gpu_node}, stage
    assert by_stage["executions"] == {sandbox_node}
    # CPU-only stages asked for no GPU, so none was reserved for them wherever they ran.
    for rec in records:
        if rec["stage"] in {"dedup", "sft", "dpo"}:
            assert not rec["assigned"].get("GPU") and not rec["assigned"].get("sandbox"), rec
    assert any(r["trusted"] for r in pq.read_table(tmp_path / "run" / "verification").to_pylist())


def test_ray_job_submit_through_the_launcher(head_only, scripted_server, tmp_path):
    cluster = head_only
    job_id = f"smoke-{uuid.uuid4().hex[:8]}"
    run_dir = tmp_path / "run"
    env = {**cluster.env, "RAY_ADDRESS": cluster.dashboard, "FACTORY_JOB_ID": job_id}
    submit = subprocess.run(["bash", str(ROOT / "deploy/submit.sh"), "generate", *_llm(scripted_server),
                             f"run_dir={run_dir}"], capture_output=True, text=True, timeout=900, env=env)
    assert submit.returncode == 0, submit.stdout[-3000:] + submit.stderr[-3000:]
    assert f"Job '{job_id}' succeeded" in submit.stdout + submit.stderr
    status = subprocess.run(["ray", "job", "status", "--address", cluster.dashboard, job_id], capture_output=True,
                            text=True, timeout=120, env=cluster.env)
    assert f"Job '{job_id}' succeeded" in status.stdout + status.stderr
    logs = subprocess.run(["ray", "job", "logs", "--address", cluster.dashboard, job_id], capture_output=True,
                          text=True, timeout=120, env=cluster.env).stdout
    assert f"outputs in {run_dir}" in logs and "[verification] shard-00000" in logs
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["problems"]["rows_in"] == 12
    assert pq.read_table(run_dir / "sft").num_rows > 0
    # The job ran cluster=remote: its resolved config says it joined the cluster instead of starting one.
    assert "address: auto" in (run_dir / "config.yaml").read_text()


def test_preflight_checks_every_node(cluster, scripted_server, tmp_path):
    """deploy/preflight.py on the 3-node cluster: the LLM on the GPU node, the sandbox on the sandbox node, run_dir
    read back on every node; then with an endpoint that is down, which must fail the preflight and say where."""
    def preflight(*extra):
        args = _llm(scripted_server, **{"llm.num_gpus": 1})
        return subprocess.run([sys.executable, str(ROOT / "deploy/preflight.py"), *args,
                               f"run_dir={tmp_path / 'run'}", "cluster=remote", f"cluster.address={cluster.address}",
                               *extra], capture_output=True, text=True, timeout=600, cwd=ROOT, env=cluster.env)

    ok = preflight()
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    lines = ok.stdout.splitlines()
    assert sum(l.startswith("PASS run_dir shared") for l in lines) == 3           # head, gpu and sandbox nodes
    assert sum(l.startswith("PASS sandbox on node") and "selfcheck/peek: pass" in l for l in lines) == 1
    assert sum(l.startswith("PASS llm=openai model=tiny on GPU node") for l in lines) == 1
    assert lines[-1] == "preflight: 6 checks passed, 0 failed"
    down = preflight("llm.base_url=http://127.0.0.1:9/v1", "llm.max_retries=0", "llm.timeout=2")
    assert down.returncode == 1
    assert any(l.startswith("FAIL llm=openai") and "giving up" in l for l in down.stdout.splitlines()), down.stdout
