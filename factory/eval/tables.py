"""The paper's tables from evaluation results: Table 1 (per checkpoint), Table 2 (test-generation settings) and
Table 3 (two models' outputs on the same gold inputs, and their ensemble). Pure functions over plain rows and
metric dicts, so the numbers can be checked on fixed sample files.

Every metric is `{"value", "count"}` as in `factory evaluate`'s reports; `None` (JSON null) means undefined.
"""

from __future__ import annotations

import itertools

from omegaconf import ListConfig

from factory.eval.testgen import Setting
from factory.literals import same_literal

# Table 1 columns per benchmark: (metric key, header).
TABLE1 = (("greedy_pass@1", "code pass@1"), ("output_accuracy", "test output acc"),
          ("testgen_case_pass_rate", "case pass"), ("false_positive_rate_samples", "FP samples"),
          ("false_positive_rate_mutants", "FP mutants"))
# Table 2 columns: one row per test-generation setting.
TABLE2 = (("output_accuracy", "test output acc"), ("testgen_suite_pass_rate", "test pass rate"),
          ("testgen_case_pass_rate", "case pass rate"), ("rerank_pass@1", "reranked pass@1"),
          ("rerank_baseline_pass@1", "random pick pass@1"))


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]


def settings(testgen_cfg) -> list[Setting]:
    """Every (cot, votes) combination asked for: `eval.testgen.cot` and `.votes` are a value or a list."""
    return [Setting(bool(c), int(v)) for c, v in itertools.product(_as_list(testgen_cfg.cot),
                                                                   _as_list(testgen_cfg.votes))]


def cell(metric: dict | None) -> str:
    if not metric or metric.get("value") is None:
        return "n/a"
    value = metric["value"]
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |"
                                                                           for r in rows]


def table1(rows: list[dict], benchmarks: list[str], prompts: dict[str, str] | None = None) -> str:
    """Table 1: one line per checkpoint (`label`, `metrics[benchmark]`), one column group per benchmark."""
    header = ["checkpoint"] + [f"{b} {name}" for b in benchmarks for _, name in TABLE1]
    lines = [f"## Per checkpoint ({', '.join(benchmarks)})", ""]
    body = [[r["label"] + (f" (= {r['same_as']})" if r.get("same_as") else "")]
            + [cell((r["metrics"].get(b) or {}).get(key)) for b in benchmarks for key, _ in TABLE1] for r in rows]
    lines += _table(header, body)
    notes = [f"{b} code prompt: {p}" for b, p in (prompts or {}).items() if p]
    lines += ["", "Greedy code pass@1; test output accuracy: the model's output for the benchmark's gold test inputs "
              "is the same literal as the gold output; case pass: the gold solution passes the model's own tests; "
              "FP: known-wrong solutions (samples at T=0.6/top-p 0.9, AST mutants) passing every valid test."]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def table2(benchmark: str, rows: list[dict]) -> str:
    """Table 2: one line per test-generation setting (`setting`: Setting.label, `metrics`)."""
    body = [[r["setting"]] + [cell(r["metrics"].get(key)) for key, _ in TABLE2] + [
        str((r["metrics"].get("testgen_tests") or {}).get("value", 0))] for r in rows]
    lines = [f"## {benchmark}: test generation settings", ""]
    lines += _table(["setting"] + [name for _, name in TABLE2] + ["tests"], body)
    lines += ["", "test pass rate: problems whose every generated test the gold solution passes; case pass rate: "
              "generated tests it passes; reranked pass@1: the sample passing most generated tests, per problem."]
    return "\n".join(lines) + "\n"


def _rate(hits: int, n: int) -> dict:
    return {"value": hits / n if n else None, "count": n}


def agreement(rows_a: list[dict], rows_b: list[dict]) -> dict:
    """Table 3 over the gold inputs both models were asked about (rows: task_id, inputs, gold, predicted).

    accuracy_a/b: predictions that are the gold answer; agreement: both predicted the same answer (an answer
    neither parsed is no agreement); ensemble_accuracy: over the agreed inputs only, the share whose common
    answer is the gold one (a test kept only when both agree); ensemble_kept: the share of inputs kept.
    """
    b_by = {(r["task_id"], r["inputs"]): r for r in rows_b}
    common = [(a, b_by[(a["task_id"], a["inputs"])]) for a in rows_a if (a["task_id"], a["inputs"]) in b_by]
    right = [(_same(a["predicted"], a["gold"]), _same(b["predicted"], a["gold"])) for a, b in common]
    agreed = [ok_a for (a, b), (ok_a, _) in zip(common, right) if _same(a["predicted"], b["predicted"])]
    n = len(common)
    return {"accuracy_a": _rate(sum(x for x, _ in right), n), "accuracy_b": _rate(sum(y for _, y in right), n),
            "agreement": _rate(len(agreed), n), "ensemble_accuracy": _rate(sum(agreed), len(agreed)),
            "ensemble_kept": _rate(len(agreed), n)}


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and same_literal(a, b)


TABLE3 = (("accuracy_a", "acc A"), ("accuracy_b", "acc B"), ("agreement", "agreement"),
          ("ensemble_accuracy", "ensemble acc"), ("ensemble_kept", "kept"))


def table3(rows: list[dict]) -> str:
    """Table 3: one line per (benchmark, model A, model B) with the `agreement` metrics."""
    body = [[r["benchmark"], r["a"], r["b"]] + [cell(r["metrics"][k]) for k, _ in TABLE3]
            + [str(r["metrics"]["agreement"]["count"])] for r in rows]
    lines = ["## Tests of two models on the same gold inputs", ""]
    lines += _table(["benchmark", "A", "B"] + [name for _, name in TABLE3] + ["inputs"], body)
    lines += ["", "ensemble acc: accuracy of the outputs both models agree on (the others are dropped); "
              "kept: the share of inputs they agree on."]
    return "\n".join(lines) + "\n"
