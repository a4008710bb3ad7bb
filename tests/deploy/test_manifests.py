"""The deploy files parse, ask for the resources the stages need, and their commands are valid factory configs."""

import shlex
import subprocess
from pathlib import Path

import yaml

from factory.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _commands(entrypoint: str) -> list[list[str]]:
    """The entrypoint's `&&`-joined commands: the preflight, then `python -m factory.cli <command> ...`."""
    words, commands = shlex.split(entrypoint), [[]]
    for w in words:
        commands.append([]) if w == "&&" else commands[-1].append(w)
    assert commands[0][:2] == ["python", "deploy/preflight.py"], entrypoint
    assert commands[1][:4] == ["python", "-m", "factory.cli", "iterate"], entrypoint
    return [commands[0][2:], commands[1][4:]]


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
        # GPU pods run the image with vLLM, the others the one without; every pod shares the HF cache and the token.
        assert groups["gpu"]["template"]["spec"]["containers"][0]["image"].endswith(":gpu")
        assert groups["cpu-sandbox"]["template"]["spec"]["containers"][0]["image"].endswith(":cpu")
        for pod in [spec["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in groups.values()]:
            env = {e["name"]: e for e in pod["containers"][0]["env"]}
            assert env["HF_HOME"]["value"].startswith("/shared/")
            assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "HF_TOKEN"
        sandbox_pod = groups["cpu-sandbox"]["template"]["spec"]
        security = sandbox_pod["containers"][0]["securityContext"]
        assert sandbox_pod["hostUsers"] is False and security["procMount"] == "Unmasked"
        assert security["seccompProfile"]["type"] == security["appArmorProfile"]["type"] == "Unconfined"
        assert "privileged" not in security and "capabilities" not in security   # nothing broader than needed
    preflight, iterate = (load_config(c) for c in _commands(job["spec"]["entrypoint"]))
    for cfg in (preflight, iterate):
        assert cfg.cluster.address == "auto" and cfg.llm.backend == "vllm" and cfg.run_dir.startswith("/shared/")
    assert preflight.run_dir == iterate.run_dir and iterate.model.name == preflight.model.name
    assert iterate.train.use_gpu and iterate.train.fsdp


def test_images_install_vllm_on_gpu_only_and_fail_without_bubblewrap():
    recipe = (DEPLOY / "kuberay" / "Dockerfile").read_text()
    assert 'pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"' in recipe and "--build-arg EXTRAS=gpu" in recipe
    assert "apt-get update && apt-get install -y --no-install-recommends bubblewrap" in recipe
    assert "|| true" not in recipe
    launcher = (DEPLOY / "cluster.yaml").read_text()
    assert "|| true" not in launcher and "apt-get update" in launcher
    conf = yaml.safe_load(launcher)
    assert any("[gpu]" in c for c in conf["available_node_types"]["gpu"]["worker_setup_commands"])
    assert not any("[gpu]" in c for c in conf["worker_setup_commands"] + conf["head_setup_commands"])


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
