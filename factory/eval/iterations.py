"""Evaluation of a self-play run, checkpoint by checkpoint: the paper's Table 1, Figure 2, Table 3 and Figure 4.

`factory iterate` calls `evaluate_run` after every iteration. Checkpoints: the base model once, then per
iteration its SFT model and its DPO model. Each is evaluated on `eval.benchmarks` with the same settings as
`factory evaluate` (conf/eval/default.yaml), into RUN_DIR/eval/<label>/<benchmark>.json (written last: it marks
the benchmark done, so a rerun evaluates nothing twice). A checkpoint that is the same folder as an earlier one
(training skipped for want of rows) is not evaluated again: its row says `same_as`.

Outputs: RUN_DIR/eval/iterations.json and .md (Table 1 per checkpoint; Table 3 for each pair of consecutive
final checkpoints), RUN_DIR/report/iterations.png (Figure 2), RUN_DIR/report/execution_outcomes.png (Figure 4,
from each iteration's executions stage), and W&B.

Assumption: the LLM backend can load every checkpoint folder (`llm=hf|vllm|openvino` load it; with `llm=openai`
the endpoint must serve the folder under its path, as for generation).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
from pathlib import Path

from omegaconf import OmegaConf, open_dict

from factory.eval import cli, tables, testgen
from factory.eval.benchmarks import load_benchmark

log = logging.getLogger(__name__)


def checkpoints(reports: list[dict], which: str = "all") -> list[dict]:
    """label, model folder (None: the base preset) and iteration of every checkpoint of the iterations so far;
    `which="final"`: the base model and each iteration's final (DPO) model only, for runs where an evaluation
    costs as much as an iteration (the SFT rows of Table 1 are then absent, not estimated)."""
    if which not in ("all", "final"):
        raise ValueError(f"eval.checkpoints={which!r}: expected all or final")
    out = [{"label": "base", "model": None, "iteration": None}]
    for r in reports:
        start = None if str(r["generator"]).startswith("preset:") else r["generator"]
        sft = r["train"]["sft"].get("model_out") or start
        dpo = r["train"]["dpo"].get("model_out") or sft
        i = r["iteration"]
        if which == "all":
            out.append({"label": f"iter_{i}_sft", "model": sft, "iteration": i})
        out.append({"label": f"iter_{i}_dpo", "model": dpo, "iteration": i})
    return out


def _key(model: str | None) -> str:
    return "base" if model is None else str(Path(model).resolve())


def evaluate_run(cfg, run_dir: Path, reports: list[dict]) -> dict | None:
    """Evaluate every checkpoint not yet evaluated, then rewrite the tables and plots. None: no benchmarks."""
    ev = cli.eval_config(cfg)
    benchmarks = list(ev.benchmarks)
    if not benchmarks:
        return None
    rows, first = [], {}
    with contextlib.ExitStack() as stack:
        sandbox = _Lazy(lambda: stack.enter_context(_sandbox(cfg)))
        for ck in checkpoints(reports, ev.get("checkpoints") or "all"):
            key = _key(ck["model"])
            if key in first:   # the same weights as an earlier checkpoint
                rows.append({**ck, "same_as": first[key]["label"], "metrics": first[key]["metrics"]})
                continue
            row = {**ck, "metrics": evaluate_checkpoint(cfg, ev, run_dir / "eval" / ck["label"], ck["model"],
                                                        benchmarks, sandbox)}
            first[key] = row
            rows.append(row)
    return write_results(cfg, run_dir, rows, benchmarks, len(reports))


class _Lazy:
    """The sandbox is started only when some checkpoint still needs evaluating (a finished run's rerun never)."""

    def __init__(self, make):
        self.make, self.value = make, None

    def get(self):
        if self.value is None:
            self.value = self.make()
        return self.value


def _sandbox(cfg):
    from factory.sandbox import make_sandbox

    return make_sandbox(cfg.sandbox)


def evaluate_checkpoint(cfg, ev, out_dir: Path, model: str | None, benchmarks: list[str], sandbox) -> dict:
    """{benchmark: metrics} of one checkpoint; benchmarks with a report in out_dir are read, not recomputed."""
    from factory.llm import make_llm
    from factory.train.iterate import local_model

    done = {b: json.loads((out_dir / f"{b}.json").read_text())["metrics"] for b in benchmarks
            if (out_dir / f"{b}.json").exists()}
    todo = [b for b in benchmarks if b not in done]
    if not todo:
        return done
    out_dir.mkdir(parents=True, exist_ok=True)
    model_cfg = cfg.model if model is None else local_model(model)
    log.info("evaluating %s on %s", model or cfg.model.name, todo)
    llm = make_llm(cfg.llm, model_cfg)
    for bench in todo:
        cfg_b = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
        with open_dict(cfg_b):
            cfg_b.benchmark = bench   # evaluate_model names its files after it
        problems = load_benchmark(bench, ev.data_paths.get(bench), None, ev.limit, ev.mbpp_prompt)
        metrics = cli.evaluate_model(cfg_b, ev, problems, sandbox.get(), out_dir, llm)
        report = {"benchmark": bench, "model": model or cfg.model.name, "samples": None,
                  "problems": len(problems), "code_prompt": cli.code_prompt(bench, ev),
                  "metrics": {k: cli._plain(m) for k, m in metrics.items()}}
        cli._write_text(out_dir / f"{bench}.md", cli.markdown(report))
        cli._write_text(out_dir / f"{bench}.json", json.dumps(report, indent=2) + "\n")   # last: done
        done[bench] = report["metrics"]
    del llm
    gc.collect()   # a checkpoint's weights go before the next one loads
    return done


def agreements(run_dir: Path, rows: list[dict], benchmarks: list[str]) -> list[dict]:
    """Table 3 for each pair of consecutive final checkpoints (base, then each iteration's DPO model)."""
    finals = [r for r in rows if r["label"] == "base" or r["label"].endswith("_dpo")]
    out = []
    for a, b in zip(finals, finals[1:]):
        if (a.get("same_as") or a["label"]) == (b.get("same_as") or b["label"]):
            continue   # the same weights: agreement 1.0 says nothing
        for bench in benchmarks:
            files = [run_dir / "eval" / (r.get("same_as") or r["label"]) / f"{bench}_outputs.jsonl" for r in (a, b)]
            if all(f.exists() for f in files):
                out.append({"benchmark": bench, "a": a["label"], "b": b["label"],
                            "metrics": tables.agreement(*(_read_jsonl(f) for f in files))})
    return out


def write_results(cfg, run_dir: Path, rows: list[dict], benchmarks: list[str], iterations: int) -> dict:
    from factory.report import plots

    ev = cli.eval_config(cfg)
    prompts = {b: cli.code_prompt(b, ev) for b in benchmarks}
    pairs = agreements(run_dir, rows, benchmarks)
    runs = [(f"iter_{i}", run_dir / f"iter_{i}") for i in range(iterations)]
    _, outcomes = plots.plot_execution_outcomes(runs, run_dir / "report" / "execution_outcomes.png")
    result = {"benchmarks": benchmarks, "code_prompts": prompts, "checkpoints": rows, "agreement": pairs,
              "execution_outcomes": outcomes}
    cli._write_text(run_dir / "eval" / "iterations.json", json.dumps(result, indent=1) + "\n")
    text = tables.table1(rows, benchmarks, prompts) + ("\n" + tables.table3(pairs) if pairs else "")
    cli._write_text(run_dir / "eval" / "iterations.md", text)
    plots.plot_iterations(rows, benchmarks, run_dir / "report" / "iterations.png")
    print(text)
    return result


def compare(cfg, ev, problems, out_dir: Path) -> int:
    """`factory evaluate eval.compare=[A,B]`: Table 3 for two models or evaluation folders."""
    rows = [_outputs_of(cfg, ev, problems, spec, out_dir, side) for spec, side in zip(ev.compare, "ab")]
    ids = {p.task_id for p in problems}
    rows = [[r for r in side if r["task_id"] in ids] for side in rows]   # eval.limit applies to files too
    pairs = [{"benchmark": cfg.benchmark, "a": str(ev.compare[0]), "b": str(ev.compare[1]),
              "metrics": tables.agreement(*rows)}]
    cli._write_text(out_dir / f"{cfg.benchmark}_compare.json", json.dumps(pairs, indent=2) + "\n")
    cli._write_text(out_dir / f"{cfg.benchmark}_compare.md", tables.table3(pairs))
    print(tables.table3(pairs))
    return 0


def _outputs_of(cfg, ev, problems, spec: str, out_dir: Path, side: str) -> list[dict]:
    """An evaluation folder's saved outputs, or a model's outputs for the gold inputs, computed now."""
    saved = Path(str(spec)) / f"{cfg.benchmark}_outputs.jsonl"
    if saved.is_file():
        return _read_jsonl(saved)
    from factory.config import load_config
    from factory.llm import make_llm

    llm = make_llm(cfg.llm, load_config([f"model={spec}"]).model)
    rows = testgen.output_predictions(llm, problems, ev.max_gold_tests, ev.output_max_tokens, cfg.seed,
                                      tables.settings(ev.testgen)[0], ev.output_temperature)
    cli._write_jsonl(out_dir / f"{cfg.benchmark}_compare_{side}_outputs.jsonl", rows)
    return rows


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def log_wandb(cfg, run_dir: Path, result: dict | None) -> None:
    """Table 1 to W&B, one step per checkpoint; never fails the run (the files are the product)."""
    if not cfg.wandb.enabled or not result:
        return
    try:
        import os

        import wandb

        mode = cfg.wandb.mode or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        run = wandb.init(project=cfg.wandb.project, name=f"{run_dir.name}-iterate-eval", dir=str(run_dir),
                         mode=mode, job_type="eval", settings=wandb.Settings(silent=True))
        columns = ["checkpoint"] + [f"{b}/{k}" for b in result["benchmarks"] for k, _ in tables.TABLE1]
        data = []
        for step, row in enumerate(result["checkpoints"]):
            values = {f"eval/{b}/{k}": m["value"] for b, ms in row["metrics"].items() for k, m in ms.items()
                      if isinstance(m.get("value"), (int, float))}
            run.log(values, step=step)
            data.append([row["label"]] + [((row["metrics"].get(b) or {}).get(k) or {}).get("value")
                                          for b in result["benchmarks"] for k, _ in tables.TABLE1])
        run.log({"eval/iterations": wandb.Table(columns=columns, data=data)})
        plot = run_dir / "report" / "iterations.png"
        if plot.exists():
            run.log({"eval/iterations_plot": wandb.Image(str(plot))})
        run.finish()
    except Exception as err:  # noqa: BLE001
        log.warning("W&B logging of the checkpoint evaluations skipped (files are complete): %s: %s",
                    type(err).__name__, err)
