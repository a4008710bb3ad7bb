"""The deploy files parse, ask for the resources the stages need, and their commands are valid factory configs."""

import shlex
import subprocess
from pathlib import Path

import yaml

from factory.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _overrides(entrypoint: str) -> list[str]:
    words = shlex.split(entrypoint)
    assert words[:4] == ["python", "-m", "factory.cli", "generate"], entrypoint
    return words[4:]


def test_kuberay_groups_offer_gpus_and_the_sandbox_resource():
    cluster = yaml.safe_load((DEPLOY / "kuberay" / "raycluster.yaml").read_text())
    job = yaml.safe_load((DEPLOY / "kuberay" / "rayjob.yaml").read_text())
    for spec in (cluster["spec"], job["spec"]["rayClusterSpec"]):
        assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"   # the head runs drivers only
        groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
        gpu = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
        assert groups["gpu"]["rayStartParams"]["num-gpus"] == gpu
        sandbox = groups["cpu-sandbox"]["rayStartParams"]["resources"]
        assert yaml.safe_load(yaml.safe_load(sandbox)) == {"sandbox": 32}   # KubeRay's quoted JSON
    cfg = load_config(_overrides(job["spec"]["entrypoint"]))
    assert cfg.cluster.address == "auto" and cfg.llm.backend == "vllm" and cfg.run_dir.startswith("/shared/")


def test_cluster_launcher_node_types():
    conf = yaml.safe_load((DEPLOY / "cluster.yaml").read_text())
    types = conf["available_node_types"]
    assert types["head"]["resources"] == {"CPU": 0}
    assert types["gpu"]["resources"]["GPU"] > 0 and types["cpu_sandbox"]["resources"]["sandbox"] > 0


def test_runtime_env_and_launcher_usage():
    env = yaml.safe_load((DEPLOY / "runtime_env.yaml").read_text())
    assert ".git" in env["excludes"] and "runs/" in env["excludes"]
    usage = subprocess.run(["bash", str(DEPLOY / "submit.sh")], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "RAY_ADDRESS=" in usage.stderr
