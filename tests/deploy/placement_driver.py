"""Driver for the placement test: `factory generate` on a given Ray cluster, each stage probed for where it ran.

Run as a script (`python placement_driver.py PROBE_DIR NODES key=value ...`): it waits until NODES nodes are
alive, wraps every stage the pipeline builds so that each `process` call appends (stage, node id, assigned
resources) to PROBE_DIR, runs the real pipeline, then writes PROBE_DIR/nodes.json (node id -> resources).
The wrapper subclasses the real stage class, so the executor still picks task or actor pool from the real
stage and asks Ray for exactly the real `resources()`.
"""

import json
import os
import sys
import time

from factory import pipeline
from factory.config import load_config


def probed(stage, probe_dir: str):
    cls = type(stage)

    def process(self, rows):
        import ray

        ctx = ray.get_runtime_context()
        rec = {"stage": self.name, "node": ctx.get_node_id(), "pid": os.getpid(),
               "assigned": ctx.get_assigned_resources(), "asked": self.resources()}
        with open(os.path.join(probe_dir, f"{self.name}-{os.getpid()}.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
        yield from cls.process(self, rows)

    stage.__class__ = type(cls.__name__, (cls,), {"process": process, "__module__": "__main__"})
    return stage


def main() -> int:
    import ray

    probe_dir, nodes, overrides = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    cfg = load_config(overrides)
    ray.init(address=cfg.cluster.address, log_to_driver=False)
    deadline = time.time() + 180
    while sum(n["Alive"] for n in ray.nodes()) < nodes:
        if time.time() > deadline:
            raise RuntimeError(f"only {sum(n['Alive'] for n in ray.nodes())} of {nodes} nodes joined")
        time.sleep(1)
    build = pipeline.build_stage
    pipeline.build_stage = lambda c, name, run_dir: probed(build(c, name, run_dir), probe_dir)
    pipeline.generate(cfg)
    nodes_out = {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
    with open(os.path.join(probe_dir, "nodes.json"), "w") as f:
        json.dump(nodes_out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
