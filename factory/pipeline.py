"""The Sol-Ver generation pipeline: the ordered stages of `factory generate`, run with an executor.

    seeds -> problems -> signatures -> [dedup plan] -> dedup -> solutions -> tests -> executions
          -> verification -> soft -> repair -> repair_executions -> sft, dpo

soft and repair are LLM stages (GPUs), repair_executions a sandbox stage; with `verify.soft.enabled` and
`repair.enabled` off they only pass rows on.

Stages between barriers are chained so shards stream through them; the dedup plan is the one global step
(near-duplicates are found across all shards). Every stage folder is resumable: completed stages and shards are
skipped on a rerun, unless the config keys a stage depends on changed (factory/resume.py): then the first changed
stage and every later one are recomputed. `from_stage=X` deletes X and everything after it first.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from factory import resume
from factory.config import STAGES, save_config
from factory.executors import make_executor
from factory.executors.shards import (legacy_stages, mark_stage_done, meta_dir, read_fingerprint, read_stats,
                                      shard_name, shard_names, stage_done, write_fingerprint, write_shard)

log = logging.getLogger(__name__)

# Where each stage reads from. sft and dpo both read repair_executions.
INPUTS = {"problems": "seeds", "signatures": "problems", "dedup": "signatures", "solutions": "dedup",
          "tests": "solutions", "executions": "tests", "verification": "executions", "soft": "verification",
          "repair": "soft", "repair_executions": "repair", "sft": "repair_executions", "dpo": "repair_executions"}
ORDER = ("seeds",) + STAGES


def build_stage(cfg, name: str, run_dir: Path):
    """The configured stage object for `name` (imports are here so a stage's heavy deps load only when used)."""
    g = cfg.generate
    llm = dict(llm=cfg.llm, model=cfg.model, seed=cfg.seed)
    if name == "problems":
        from factory.stages.problems import Problems
        return Problems(sampling=g.problem, styles=tuple(g.styles), problem_code=g.get("problem_code", "keep"), **llm)
    if name == "signatures":
        from factory.stages.signatures import Signatures
        return Signatures(sampling=g.signature, **llm)
    if name == "dedup":
        from factory.stages.dedup import Dedup
        return Dedup(dedup=cfg.dedup, plan_path=str(dedup_plan(run_dir)))
    if name == "solutions":
        from factory.stages.solutions import Solutions
        return Solutions(sampling=g.solution, num_solutions=g.num_solutions, **llm)
    if name == "tests":
        from factory.stages.tests import Tests
        return Tests(sampling=g.test_inputs, output_sampling=g.test_output, num_inputs=g.num_inputs,
                     num_outputs=g.num_outputs,
                     input_samples=g.input_samples, example_inputs=g.get("example_inputs", 0),
                     boundary_inputs=g.get("boundary_inputs", 0), boundary_outputs=g.get("boundary_outputs", True),
                     **llm)
    if name == "executions":
        from factory.stages.executions import Executions
        return Executions(sandbox=cfg.sandbox)
    if name == "verification":
        from factory.stages.verification import Verification
        return Verification(verify=cfg.verify, sandbox=cfg.sandbox)
    if name == "soft":
        from factory.stages.soft import Soft
        return Soft(sampling=cfg.verify.soft, verify=cfg.verify, **llm)
    if name == "repair":
        from factory.stages.repair import Repair
        return Repair(sampling=cfg.repair, repair=cfg.repair, **llm)
    if name == "repair_executions":
        from factory.stages.repair import RepairExecutions
        return RepairExecutions(repair=cfg.repair, sandbox=cfg.sandbox)
    if name == "sft":
        from factory.stages.pairs import SFTData
        return SFTData(num_inputs=g.num_inputs)
    if name == "dpo":
        from factory.stages.pairs import DPOData
        return DPOData()
    raise ValueError(f"unknown stage {name!r}")


def dedup_plan(run_dir: Path) -> Path:
    return meta_dir(run_dir / "dedup") / "duplicates.parquet"


def reset_from(run_dir: Path, stage: str) -> None:
    """Delete `stage` and every later stage's data and bookkeeping: they are to be recomputed."""
    for name in ORDER[ORDER.index(stage):]:
        for folder in (run_dir / name, meta_dir(run_dir / name)):
            if folder.exists():
                log.info("recomputing from %s: removing %s", stage, folder)
                shutil.rmtree(folder)


def refuse_legacy(run_dir: Path) -> None:
    old = legacy_stages(run_dir, ORDER)
    if old:
        raise ValueError(f"{run_dir} is from an older output layout (bookkeeping such as _SUCCESS and _stats/ inside "
                         f"{', '.join(old)}/): its data and `factory stats` still read, but it cannot be resumed; "
                         f"use a new run_dir")


def expected_records(cfg, names: list[str]) -> dict[str, dict]:
    """The fingerprint record each stage of `names` runs under with this config (factory/resume.py)."""
    inputs = {n: INPUTS.get(n) for n in names}   # seeds: None, it reads no stage
    if cfg.problems_from:
        inputs["solutions"] = "problems_from"      # a folder outside this run: its recorded fingerprint counts

    def recorded_input(stage: str) -> str:
        folder = input_dir(cfg, stage)
        return resume.folder_fingerprint(folder, read_fingerprint(folder))

    return resume.records(cfg, names, inputs, recorded_input)


def recompute_changed(cfg, names: list[str]) -> dict[str, dict]:
    """Wipe the first stage of `names` whose recorded fingerprint differs from this config's, and every later one;
    log the keys that changed. Returns the expected records."""
    run_dir = Path(cfg.run_dir)
    want = expected_records(cfg, names)
    for name in names:
        have = read_fingerprint(run_dir / name)
        if have is not None and have.get("fingerprint") != want[name]["fingerprint"]:
            later = ", ".join(ORDER[ORDER.index(name):])
            log.warning("%s was made under another config (%s): recomputing %s", name,
                        "; ".join(resume.changes(have, want[name])), later)
            reset_from(run_dir, name)
            break
    return want


def write_seeds(cfg, run_dir: Path, record: dict | None = None) -> None:
    from factory.stages.seeds import Seeds, collect_seeds

    out = run_dir / "seeds"
    if stage_done(out):
        return
    record = record or expected_records(cfg, ["seeds"])["seeds"]
    write_fingerprint(out, record)
    rows = collect_seeds(cfg.seeds, cfg.num_problems, cfg.seed).to_pylist()
    names = []
    for i in range(0, max(len(rows), 1), cfg.shard_size):
        names.append(shard_name(i // cfg.shard_size))
        write_shard(Seeds(), out, names[-1], rows[i : i + cfg.shard_size], [], 0, 0.0)
    mark_stage_done(out, names, record)


def run(cfg, start: str = "problems", progress=None) -> None:
    """Run every stage from `start` to the end over the shards found in `start`'s input folder; stages already
    done under the same config are skipped, the first one whose config changed is recomputed with all after it."""
    run_dir = Path(cfg.run_dir)
    refuse_legacy(run_dir)
    names = list(STAGES[STAGES.index(start):])
    records = recompute_changed(cfg, names)
    executor = make_executor(cfg)
    segments = [names[: names.index("dedup")], names[names.index("dedup"):]] if "dedup" in names[1:] else [names]
    for segment in segments:
        todo = [n for n in segment if not stage_done(run_dir / n)]
        for n in todo:   # before any shard: a later rerun can tell under which config these shards were made
            if read_fingerprint(run_dir / n) is None:
                write_fingerprint(run_dir / n, records[n])
        if todo and todo[0] == "dedup":
            from factory.stages.dedup import plan_dedup
            files = sorted(str(p) for p in (run_dir / "signatures").glob("shard-*.parquet"))
            plan_dedup(files, str(dedup_plan(run_dir)), cfg.dedup, cfg.executor == "ray")
        if not todo:
            continue
        in_dir = input_dir(cfg, todo[0])
        shards = shard_names(in_dir)
        chain = [(build_stage(cfg, n, run_dir), input_dir(cfg, n), run_dir / n) for n in todo]
        log.info("running %s over %d shards on %s", ", ".join(todo), len(shards), executor.name)
        executor.run_chain(chain, shards, progress)
        for n in todo:
            mark_stage_done(run_dir / n, shards, records[n])


def input_dir(cfg, stage: str) -> Path:
    if stage == "solutions" and cfg.problems_from:
        return Path(cfg.problems_from)
    return Path(cfg.run_dir) / INPUTS[stage]


def summarize(run_dir: Path) -> dict:
    """Per stage: rows in and out, drops by reason, seconds; written to RUN_DIR/summary.json."""
    summary = {}
    for name in ("seeds",) + STAGES:
        stats = read_stats(run_dir / name)
        if not stats:
            continue
        dropped: dict[str, int] = {}
        for s in stats:
            for reason, n in s["dropped"].items():
                dropped[reason] = dropped.get(reason, 0) + n
        summary[name] = {"shards": len(stats), "rows_in": sum(s["rows_in"] for s in stats),
                         "rows_out": sum(s["rows_out"] for s in stats), "dropped": dropped,
                         "seconds": round(sum(s["seconds"] for s in stats), 2)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def generate(cfg) -> dict:
    run_dir = Path(cfg.run_dir)
    refuse_legacy(run_dir)
    save_config(cfg, run_dir)
    if cfg.from_stage:
        reset_from(run_dir, cfg.from_stage)
    from factory.report.console import Console
    from factory.report.wandb import LiveRun

    live = LiveRun(cfg, run_dir)               # W&B: each shard's record as it completes, tables at the end
    progress = Console(on_shard=live.log_shard)
    try:
        if cfg.problems_from:
            run(cfg, start="solutions", progress=progress)
        else:
            records = recompute_changed(cfg, list(ORDER))
            write_seeds(cfg, run_dir, records["seeds"])
            run(cfg, start="problems", progress=progress)
    except BaseException:
        progress.close()
        live.close()
        raise
    progress.close()
    summary = summarize(run_dir)
    live.finish(summary)
    return summary


def main(cfg, args: list[str]) -> int:
    if args:
        raise ValueError(f"factory generate takes no positional arguments, got {args}")
    from factory.report.console import summary_text

    summary = generate(cfg)
    print("\n" + summary_text(summary, cfg.run_dir))
    return 0
