"""`factory iterate iterations=N model=MODEL num_problems=M run_dir=DIR`: the self-play loop of the paper.

Iteration i, all under DIR/iter_<i>/:
  1. generate with model i (`factory.pipeline.generate`): solutions, tests, executions, verification, sft, dpo.
     Iterations after the first solve iteration 0's problems again (`problems_from=DIR/iter_0/dedup`), so tests of
     consecutive iterations are on the same problems (paper 4.4), and verify with the trusted suites of every
     earlier iteration (`verify.ensemble`).
  2. SFT from model i on iter_<i>/sft -> iter_<i>/train/sft/model
  3. DPO from the SFT model on iter_<i>/dpo -> iter_<i>/model, which is model i+1
  4. iter_<i>/iteration.json: data sizes, agreement rate, execution pass/error distribution, agreement with the
     previous iteration's tests; also logged to W&B (offline without a key).
  5. the base model (once), the SFT model and the DPO model are evaluated on `eval.benchmarks`
     (factory.eval.iterations): DIR/eval/iterations.json and .md (the paper's Tables 1 and 3),
     DIR/report/iterations.png and execution_outcomes.png (its Figures 2 and 4).
Every step has a marker (stage markers, train metrics.json, iteration.json), so a killed run resumes at the first
unfinished step. A step with no rows to train on (a model too weak to agree with itself) is skipped and the model
carries over unchanged; iteration.json says so.
"""

from __future__ import annotations

import ast
import json
import logging
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from omegaconf import OmegaConf, open_dict

from factory.train.cli import train

log = logging.getLogger(__name__)


def iteration_cfg(cfg, run_dir: Path, i: int, model_path: str | None):
    """cfg for iteration i: its own run_dir, model i (a local folder after iteration 0), earlier suites."""
    cfg_i = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    OmegaConf.set_struct(cfg_i, True)
    with open_dict(cfg_i):
        cfg_i.run_dir = str(run_dir / f"iter_{i}")
        cfg_i.verify.ensemble = [str(run_dir / f"iter_{j}" / "verification") for j in range(i)]
        if i > 0:
            cfg_i.problems_from = str(run_dir / "iter_0" / "dedup")
        if model_path:
            cfg_i.model = local_model(model_path)
    return cfg_i


def local_model(path: str | Path):
    # name = the folder: the name `vllm serve FOLDER` serves it under, so llm=openai asks for the right model.
    return OmegaConf.create({"name": str(path), "source": "local", "path": str(path), "cache_dir": None})


def count_rows(folder: Path) -> Counter:
    """Rows per role in a stage folder of sft/dpo shards (empty when the stage produced nothing)."""
    roles: Counter = Counter()
    for path in sorted(folder.glob("shard-*.parquet")):
        roles.update(pq.read_table(path, columns=["role"]).column(0).to_pylist())
    return roles


def run_iteration(cfg, run_dir: Path, i: int, model_path: str | None) -> dict:
    """Generate, SFT, DPO, report; returns iteration.json's content. Skips every step already finished."""
    from factory.pipeline import generate

    it = run_dir / f"iter_{i}"
    done = it / "iteration.json"
    if done.exists():
        return json.loads(done.read_text())
    cfg_i = iteration_cfg(cfg, run_dir, i, model_path)
    generate(cfg_i)
    generator = model_path or f"preset:{cfg.model.name}"
    model, trained = model_path, {}
    for kind in ("sft", "dpo"):
        rows = count_rows(it / kind)
        if not sum(rows.values()):
            log.warning("iteration %d: no %s rows to train on; the model carries over unchanged", i, kind)
            trained[kind] = {"skipped": f"no {kind} rows"}
            continue
        cfg_k = cfg_i if model is None else iteration_cfg(cfg, run_dir, i, model)
        model_out = it / "model" if kind == "dpo" else None
        trained[kind] = train(cfg_k, kind, it / kind, it / "train" / kind, model_out)
        model = trained[kind]["model_out"]
    if model and model != model_path and not (it / "model").exists():
        # SFT ran but DPO had no rows: the SFT model is this iteration's product.
        (it / "model").symlink_to(Path(model).resolve(), target_is_directory=True)
    report = {"iteration": i, "generator": generator, "next_model": str(it / "model") if model != model_path
              else model_path, **data_report(run_dir, i), "train": trained}
    done.write_text(json.dumps(report, indent=1))  # last: the iteration is complete
    return report


def data_report(run_dir: Path, i: int) -> dict:
    """What the paper tracks per iteration, from the shards on disk."""
    it = run_dir / f"iter_{i}"
    ver = _read(it / "verification", ["problem_id", "trusted", "reason", "test_inputs", "expected"])
    statuses = Counter(v["status"] for r in _read(it / "executions", ["verdicts"]) for v in r["verdicts"] or [])
    total = sum(statuses.values())
    report = {
        "problems": len(ver),
        "trusted": sum(bool(r["trusted"]) for r in ver),
        "agreement_rate": round(sum(bool(r["trusted"]) for r in ver) / len(ver), 4) if ver else None,
        "untrusted_reasons": dict(Counter(r["reason"] for r in ver if not r["trusted"])),
        "sft_rows": dict(count_rows(it / "sft")),
        "dpo_rows": dict(count_rows(it / "dpo")),
        "executions": total,
        "execution_status": {k: round(n / total, 4) for k, n in statuses.most_common()} if total else {},
    }
    if i > 0:
        prev = _read(run_dir / f"iter_{i - 1}" / "verification", ["problem_id", "trusted", "test_inputs", "expected"])
        report["vs_previous"] = consecutive_agreement(prev, ver)
    return report


def consecutive_agreement(prev: list[dict], cur: list[dict]) -> dict:
    """Agreement of consecutive iterations' tests on the same problems (paper 4.4).

    same_expected: over (problem, test input) pairs both iterations have an expected output for, the share whose
    expected outputs are equal. trusted_same: the share of common problems trusted (or not) by both.
    fails_earlier_suite: problems whose chosen solutions failed an earlier iteration's trusted suite.
    """
    before = {r["problem_id"]: r for r in prev}
    common = [r for r in cur if r["problem_id"] in before]
    pairs = agree = 0
    for r in common:
        old = {_norm(x): _norm(e) for x, e in zip(before[r["problem_id"]]["test_inputs"] or [],
                                                  before[r["problem_id"]]["expected"] or []) if e is not None}
        for x, e in zip(r["test_inputs"] or [], r["expected"] or []):
            if e is not None and _norm(x) in old:
                pairs += 1
                agree += old[_norm(x)] == _norm(e)
    return {"common_problems": len(common),
            "trusted_same": round(sum(bool(r["trusted"]) == bool(before[r["problem_id"]]["trusted"])
                                      for r in common) / len(common), 4) if common else None,
            "test_pairs": pairs, "same_expected": round(agree / pairs, 4) if pairs else None,
            "fails_earlier_suite": sum(r.get("reason") == "fails_earlier_suite" for r in cur)}


def _norm(literal: str) -> str:
    # "[1,2]" and "[1, 2]" are the same test: compare parsed values where the text parses.
    try:
        return repr(ast.literal_eval(literal))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return literal


def _read(folder: Path, columns: list[str]) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("shard-*.parquet")):
        rows += pq.read_table(path, columns=columns).to_pylist()
    return rows


def log_wandb(cfg, run_dir: Path, reports: list[dict]) -> None:
    """One W&B run per `factory iterate`, one step per iteration; never fails the run (the files are the product)."""
    if not cfg.wandb.enabled:
        return
    try:
        import os

        import wandb

        mode = cfg.wandb.mode or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        run = wandb.init(project=cfg.wandb.project, name=f"{run_dir.name}-iterate", dir=str(run_dir), mode=mode,
                         job_type="iterate", settings=wandb.Settings(silent=True))
        for r in reports:
            flat = {k: v for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            flat.update({f"status/{k}": v for k, v in r["execution_status"].items()})
            flat.update({f"vs_previous/{k}": v for k, v in (r.get("vs_previous") or {}).items() if v is not None})
            flat.update({f"{k}/final_loss": t.get("final_loss") for k, t in r["train"].items() if "final_loss" in t})
            flat["sft_rows"], flat["dpo_rows"] = sum(r["sft_rows"].values()), sum(r["dpo_rows"].values())
            run.log(flat, step=r["iteration"])
        run.finish()
    except Exception as err:  # noqa: BLE001
        log.warning("W&B logging of the iterations skipped (outputs are complete): %s: %s", type(err).__name__, err)


def main(cfg, args: list[str]) -> int:
    if args:
        raise ValueError(f"factory iterate takes no positional arguments, got {args}")
    if not isinstance(cfg.iterations, int) or cfg.iterations < 1:
        raise ValueError(f"iterations={cfg.iterations!r}: expected a positive integer")
    from factory.eval import iterations as evaluation

    run_dir = Path(cfg.run_dir).resolve()
    model_path, reports, evaluated = None, [], None
    for i in range(cfg.iterations):
        reports.append(run_iteration(cfg, run_dir, i, model_path))
        model_path = reports[-1]["next_model"]
        r = reports[-1]
        print(f"iter_{i}: {r['problems']} problems, agreement {r['agreement_rate']}, sft {r['sft_rows']}, "
              f"dpo {r['dpo_rows']}, next model {model_path or 'unchanged'}")
        # After each iteration, not at the end: a long run shows its trend early, and a killed one keeps it.
        evaluated = evaluation.evaluate_run(cfg, run_dir, reports)
    (run_dir / "iterations.json").write_text(json.dumps(reports, indent=1))
    log_wandb(cfg, run_dir, reports)
    evaluation.log_wandb(cfg, run_dir, evaluated)
    return 0
