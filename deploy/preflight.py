"""Preflight of a real cluster, run by the RayJob before the pipeline (deploy/kuberay/rayjob.yaml):

    python deploy/preflight.py cluster=remote run_dir=/shared/runs/r1 llm=vllm model=llama-3.1-8b-instruct

Takes the same key=value overrides as `factory`. Checks what no test on a laptop can: on every GPU node the
configured LLM backend loads the model and generates (vLLM imports, CUDA works, weights and HF_TOKEN reach it); on
every node offering the sandbox resource the sandbox starts and judges known-good and known-bad cases
(factory/sandbox/selfcheck.py); run_dir is shared (a file written on each node is read on every other). Prints one
line per check, `PASS` or `FAIL`, and exits 1 if any failed. tests/deploy/test_preflight.py runs it on a 3-node
local cluster.
"""

from __future__ import annotations

import socket
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # run as a script from the project folder (the job's working_dir)

PROMPT = [{"role": "user", "content": "Write a Python function add(a, b) that returns a + b."}]


def write_probe(folder: str, token: str) -> str:
    node = socket.gethostname() + ":" + _node_id()
    path = Path(folder) / f"{token}-{_node_id()}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(node)
    return path.name


def read_probes(folder: str, names: list[str]) -> list[str]:
    """The probe files this node cannot see (empty: run_dir is shared)."""
    return [n for n in names if not (Path(folder) / n).exists()]


def sandbox_check(sandbox_cfg) -> list[str]:
    from factory.sandbox import make_sandbox
    from factory.sandbox.selfcheck import check

    with make_sandbox(sandbox_cfg) as box:
        return check(box, isolated=not sandbox_cfg.get("allow_unsafe", False))


def llm_check(llm_cfg, model_cfg) -> str:
    from factory.llm import Sampling, make_llm

    start = time.perf_counter()
    engine = make_llm(llm_cfg, model_cfg)
    [[reply]] = engine.generate([PROMPT], Sampling(n=1, temperature=0.0, max_tokens=64))
    if not reply.strip():
        raise RuntimeError("the model answered with an empty reply")
    return f"{len(reply)} chars in {time.perf_counter() - start:.1f}s"


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()[:12]


def main(argv: list[str]) -> int:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from factory.config import load_config
    from factory.executors.ray_data import init_ray

    cfg = load_config(argv)
    init_ray(cfg.cluster)
    resource = cfg.sandbox.get("ray_resource") or "sandbox"
    nodes = [n for n in ray.nodes() if n["Alive"]]
    on = lambda n: NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)  # noqa: E731
    results: list[tuple[str, object]] = []   # (check name, ObjectRef)
    folder, token = str(Path(cfg.run_dir) / "_preflight"), uuid.uuid4().hex[:8]
    workers = [n for n in nodes if n["Resources"].get("CPU", 0) > 0]
    names = ray.get([ray.remote(num_cpus=1)(write_probe).options(scheduling_strategy=on(n)).remote(folder, token)
                     for n in workers])
    for n in workers:
        results.append((f"run_dir shared: node {n['NodeID'][:12]} reads {len(names)} nodes' files under {folder}",
                        ray.remote(num_cpus=1)(read_probes).options(scheduling_strategy=on(n)).remote(folder, names)))
    for n in nodes:
        if n["Resources"].get(resource, 0) >= 1:
            task = ray.remote(num_cpus=1, resources={resource: 1})(sandbox_check)
            results.append((f"sandbox on node {n['NodeID'][:12]}", task.options(scheduling_strategy=on(n))
                            .remote(cfg.sandbox)))
        gpus = float(cfg.llm.get("num_gpus") or 0)
        if n["Resources"].get("GPU", 0) >= max(gpus, 1):
            task = ray.remote(num_cpus=1, num_gpus=gpus)(llm_check)
            results.append((f"llm={cfg.llm.backend} model={cfg.model.name} on GPU node {n['NodeID'][:12]}",
                            task.options(scheduling_strategy=on(n)).remote(cfg.llm, cfg.model)))
    failed = 0
    for name, ref in results:
        try:
            value = ray.get(ref)
            ok = not (isinstance(value, list) and name.startswith("run_dir") and value)
            detail = f"missing {value}" if not ok else (", ".join(value) if isinstance(value, list) else value)
        except Exception as err:   # the check's own error: the line says what failed on which node
            ok, detail = False, f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:300]}"
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    total = len(results) + 1
    if not any(n.startswith("sandbox") for n, _ in results) or not any(n.startswith("llm=") for n, _ in results):
        print(f"FAIL cluster: no node offers `{resource}` or GPUs; the pipeline's stages could not be placed")
        failed += 1
    else:
        print("PASS cluster: GPU and sandbox nodes present")
    print(f"preflight: {total - failed} checks passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
