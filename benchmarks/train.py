"""SFT throughput: plain single-process TRL vs Ray Train with 1 and 2 workers, on the same data, in one run.

    python benchmarks/train.py [--models tiny,smollm2-135m] [--rows 32] [--repeats 1] [--out docs/perf/train.md]

Tokens are the token ids of the rows each rank trained on (prompt + completion, no padding). Steady state is
tokens / seconds inside `trainer.train()`; Ray Train's start-up (worker group, process group, imports, model and
data load, final save) is the rest of `fit()`, reported separately, and `ray.init` apart from both.
The plain-TRL baseline runs the same recipe (factory/train/sft.py) in this process with one torch thread, as each
Ray worker has. Medians over --repeats; ratios are against the baseline of the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def plain_trl(cfg, data_dir: Path, scratch: Path) -> dict:
    import torch

    from factory.llm.models import resolve_model
    from factory.train import data, sft
    from factory.train.ray import SeenRecorder

    torch.set_num_threads(cfg.train.threads_per_worker)
    start = time.perf_counter()
    dataset, _ = data.load(data_dir, "sft", None, cfg.seed)
    trainer = sft.make_trainer(resolve_model(cfg.model), dataset, cfg.train, str(scratch), "none", cfg.seed)
    recorder = trainer.data_collator = SeenRecorder(trainer.data_collator)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return {"tokens": recorder.tokens, "train_seconds": seconds, "startup_seconds": setup,
            "steps": trainer.state.global_step}


def ray_fit(cfg, data_dir: Path, out: Path) -> dict:
    from factory.train.ray import fit

    m = fit(cfg, "sft", data_dir, out)
    return {"tokens": m["tokens"], "train_seconds": m["train_seconds"],
            "startup_seconds": m["fit_seconds"] - m["train_seconds"], "steps": m["steps"]}


def bench_model(model: str, rows: int, repeats: int, root: Path) -> str:
    from factory.config import load_config
    from factory.executors.ray_data import init_ray
    from factory.train.data import write_humaneval_demo

    data_dir = write_humaneval_demo(root / "sft", "sft", rows)
    base = [f"model={model}", f"run_dir={root}", "wandb.enabled=false", "train.batch_size=4",
            "train.save_steps=100000", "train.sft.epochs=1", "train.resume=false"]
    results: dict[str, list[dict]] = {"plain TRL (1 process)": [], "Ray Train, 1 worker": [],
                                      "Ray Train, 2 workers": []}
    start = time.perf_counter()
    init_ray(load_config(base).cluster)  # a no-op after the first model
    ray_init = time.perf_counter() - start
    for r in range(repeats):
        results["plain TRL (1 process)"].append(plain_trl(load_config(base), data_dir, root / f"{model}-plain{r}"))
        for n in (1, 2):
            cfg = load_config(base + [f"train.num_workers={n}"])
            key = f"Ray Train, {n} worker{'s' if n > 1 else ''}"
            results[key].append(ray_fit(cfg, data_dir, root / f"{model}-w{n}-{r}"))

    fields = ("tokens", "train_seconds", "startup_seconds", "steps")
    med = {k: {f: statistics.median(x[f] for x in v) for f in fields} for k, v in results.items()}
    baseline = med["plain TRL (1 process)"]["tokens"] / med["plain TRL (1 process)"]["train_seconds"]
    lines = [f"## model={model}: {rows} HumanEval rows, batch 4 per worker, 1 epoch, {os.cpu_count()} CPUs, "
             f"median of {repeats}", "", f"`ray.init`: {ray_init:.1f} s (once per process, not counted below)", "",
             "| setup | steps | tokens | train s | tokens/s (steady) | vs plain TRL | start-up s |",
             "|---|---|---|---|---|---|---|"]
    for k, m in med.items():
        tps = m["tokens"] / m["train_seconds"]
        lines.append(f"| {k} | {m['steps']:.0f} | {m['tokens']:.0f} | {m['train_seconds']:.2f} | {tps:.0f} | "
                     f"{tps / baseline:.2f}x | {m['startup_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="tiny,smollm2-135m")
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default="docs/perf/train.md")
    a = ap.parse_args()
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import ray

    root = Path(tempfile.mkdtemp(prefix="bench-train-"))
    sections = [bench_model(m, a.rows, a.repeats, root / m) for m in a.models.split(",")]
    ray.shutdown()
    text = ("# SFT throughput: plain TRL vs Ray Train (`python benchmarks/train.py`)\n\n" + "\n".join(sections) +
            "\nstart-up: plain TRL = data + model + trainer construction (imports already paid in-process); "
            "Ray Train = fit() wall time minus train(): worker group, process group, imports, data, model, final "
            "save and report.\n")
    print(text)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
