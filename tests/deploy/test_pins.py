"""The pins of pyproject.toml resolve together: the `gpu` extra's vLLM is the one `ray[llm]` of the pinned Ray pins,
and it pins the same torch as the base dependencies (a mismatch makes `pip install '.[gpu]'` swap torch or fail)."""

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())


def pin(requirements: list[str], name: str) -> str:
    """The exact version `name==X` in `requirements` (extras allowed); fails if it is not an exact pin."""
    for req in requirements:
        m = re.fullmatch(rf"{name}(\[[^\]]*\])?==([\w.]+)", req.split(";")[0].strip())
        if m:
            return m.group(2)
    raise AssertionError(f"pyproject.toml: no exact pin {name}==X in {requirements}")


BASE = PYPROJECT["project"]["dependencies"]
GPU = PYPROJECT["project"]["optional-dependencies"]["gpu"]


def test_torch_ray_and_vllm_are_pinned_exactly():
    assert pin(BASE, "torch") and pin(BASE, "ray") and pin(GPU, "vllm")
    if "vllm" in {d.metadata["Name"] for d in metadata.distributions()}:   # a GPU image: check what is installed
        assert metadata.version("vllm") == pin(GPU, "vllm")
        assert f"torch=={pin(BASE, 'torch')}" in [r.split(";")[0].replace(" ", "") for r in metadata.requires("vllm")]


def requires_dist(spec: str, tmp_path: Path) -> tuple[list[str], str]:
    """(Requires-Dist, Requires-Python) of `spec` as pip resolves it from the index (no install, no weights)."""
    report = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
                          "--quiet", "--report", str(report), spec], capture_output=True, text=True, timeout=1200)
    if run.returncode != 0:
        pytest.skip(f"pip cannot resolve {spec} here: {run.stderr[-300:]}")
    meta = json.loads(report.read_text())["install"][0]["metadata"]
    return meta.get("requires_dist", []), meta.get("requires_python", "")


@pytest.mark.slow  # pip fetches the vllm (316 MB) and ray (79 MB) wheels to read them when the index lacks metadata
def test_the_gpu_extra_agrees_with_ray_llm_and_the_base_torch(tmp_path):
    ray_deps, _ = requires_dist(f"ray[llm]=={pin(BASE, 'ray')}", tmp_path)
    llm_extra = [r for r in ray_deps if 'extra == "llm"' in r]
    assert pin(llm_extra, "vllm") == pin(GPU, "vllm"), "the gpu extra's vllm is not the one ray[llm] pins"
    vllm_deps, vllm_python = requires_dist(f"vllm=={pin(GPU, 'vllm')}", tmp_path)
    assert pin(vllm_deps, "torch") == pin(BASE, "torch"), "vllm pins another torch than the base dependencies"
    floor = re.search(r"transformers>=([\d.]+)", ",".join(BASE)).group(1)
    need = re.search(r"transformers>=([\d.]+)", ",".join(vllm_deps)).group(1)
    assert tuple(map(int, floor.split("."))) >= tuple(map(int, need.split("."))), (floor, need)
    # requires-python is vLLM's (Ray 2.60 asks only >=3.10)
    assert set(vllm_python.replace(" ", "").split(",")) == set(PYPROJECT["project"]["requires-python"].split(","))
