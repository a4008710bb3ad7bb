"""Judge generated tests with candidate solutions of known correctness: case/suite pass rate against a gold
solution, false positives on known-wrong solutions, reranking of samples, and verifier ranking.

Candidates per problem: the gold solution (the benchmark's canonical one; without one, the first sample that
passes the gold tests stands in), the model's samples and the AST mutants, each already run against the gold
tests in assertion mode (`gold_pass`). Here every candidate runs once more, in the sandbox's I/O mode, on the
generated tests followed by the benchmark's gold I/O pairs, so one execution yields both the verifier's score
and the candidate's gold pass rate.

False positives are counted against the *valid* generated tests only (those the gold solution passes): a wrong
test rejects right and wrong code alike, and counting it would make a confused verifier look strict.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from statistics import mean

from factory.eval.benchmarks import Problem
from factory.eval.ranking import ranking_metrics


@dataclasses.dataclass
class Candidate:
    kind: str                  # gold | sample | mutant
    source: str                # the whole program
    gold_pass: bool            # passed the benchmark's own tests (assertion mode)
    generated: list[bool] = dataclasses.field(default_factory=list)   # per generated test
    gold_io: list[bool] = dataclasses.field(default_factory=list)     # per gold I/O pair


def run_candidates(sandbox, problems: dict[str, Problem], generated: dict[str, list[tuple[str, str]]],
                   candidates: dict[str, list[Candidate]]) -> None:
    """Fill `generated` and `gold_io` of every candidate of every problem that has tests to run."""
    from factory.sandbox import Case, IOTest

    cases, owners = [], []
    for tid, cands in candidates.items():
        tests = [IOTest(i, e) for i, e in generated.get(tid, [])] + [IOTest(i, e) for i, e in problems[tid].io_tests]
        if not tests:
            continue
        for n, cand in enumerate(cands):
            cases.append(Case(id=f"{tid}#{cand.kind}{n}", solution=cand.source,
                              entry_point=problems[tid].entry_point, tests=tests))
            owners.append((tid, cand))
    for (tid, cand), verdicts in zip(owners, sandbox.run(cases)):
        passed = [v.status == "pass" for v in verdicts]
        split = len(generated.get(tid, []))
        cand.generated, cand.gold_io = passed[:split], passed[split:]


def reference(cands: list[Candidate]) -> Candidate | None:
    gold = [c for c in cands if c.kind == "gold"]
    return gold[0] if gold else next((c for c in cands if c.kind == "sample" and c.gold_pass), None)


def _rate(values: list[float], count: int | None = None) -> dict:
    # No samples: undefined (null in the JSON, n/a in the table), not a misleading 0.
    return {"value": float(mean(values)) if values else math.nan, "count": len(values) if count is None else count}


def verifier_metrics(generated: dict[str, list[tuple[str, str]]], candidates: dict[str, list[Candidate]]) -> dict:
    """All test-generation metrics that need execution, from candidates filled by `run_candidates`."""
    case_results, suites, fp = [], [], {"sample": [], "mutant": []}
    no_valid = 0
    for tid, tests in generated.items():
        ref = reference(candidates.get(tid, []))
        if ref is None or not tests:
            continue
        case_results += ref.generated
        suites.append(all(ref.generated))
        valid = [i for i, ok in enumerate(ref.generated) if ok]
        if not valid:
            no_valid += 1
            continue
        for cand in candidates[tid]:
            if cand.kind in fp and not cand.gold_pass:
                fp[cand.kind].append(all(cand.generated[i] for i in valid))
    metrics = {
        "testgen_tests": {"value": sum(len(t) for t in generated.values()), "count": len(generated)},
        "testgen_case_pass_rate": _rate(case_results),
        "testgen_suite_pass_rate": _rate(suites),
        "false_positive_rate_samples": _rate(fp["sample"]),
        "false_positive_rate_mutants": _rate(fp["mutant"]),
        "false_positive_problems_without_valid_tests": {"value": no_valid, "count": len(suites)},
    }
    metrics.update(rerank_metrics(generated, candidates))
    metrics.update(ranking_metrics(_ranking_inputs(generated, candidates)))
    return metrics


def rerank_metrics(generated: dict, candidates: dict[str, list[Candidate]]) -> dict:
    """Pick, per problem, the sample that passes most generated tests (first one on ties); its gold pass is the
    reranked pass@1. The baseline is a random pick: the mean gold pass of the same samples."""
    picked, baseline = [], []
    for tid in generated:
        samples = [c for c in candidates.get(tid, []) if c.kind == "sample"]
        if not samples:
            continue
        scores = [mean(c.generated) if c.generated else 0.0 for c in samples]
        picked.append(samples[scores.index(max(scores))].gold_pass)
        baseline.append(mean(c.gold_pass for c in samples))
    return {"rerank_pass@1": _rate(picked), "rerank_baseline_pass@1": _rate(baseline)}


def _ranking_inputs(generated: dict, candidates: dict[str, list[Candidate]]) -> list[tuple[list, list]]:
    """(verifier scores, gold pass rates) per problem with generated tests. The gold rate is the share of gold
    I/O pairs passed; problems whose asserts did not parse into pairs fall back to pass/fail of the asserts."""
    out = []
    for tid, tests in generated.items():
        cands = candidates.get(tid, [])
        if not tests or not cands:
            continue
        scores = [mean(c.generated) if c.generated else 0.0 for c in cands]
        gold = [mean(c.gold_io) if c.gold_io else float(c.gold_pass) for c in cands]
        out.append((scores, gold))
    return out


# HE-R / MBPP-R (factory/eval/herank.py builds the candidate sets): a verifier scores every candidate.
def read_verifier_tests(path: str | Path, problems: dict[str, Problem]) -> dict[str, list[tuple]]:
    """A verifier as a file: JSON lines of {task_id, inputs, expected} (I/O tests, the format of the
    RUN_DIR/eval/*_tests.jsonl files) or {task_id, assertion} (a program of asserts run after the solution).
    Errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"samples={str(path)!r}: no such file")
    tests: dict[str, list[tuple]] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            tid = row["task_id"]
            test = ("assert", row["assertion"]) if "assertion" in row else ("io", str(row["inputs"]),
                                                                          str(row["expected"]))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{path}:{lineno}: expected task_id with inputs and expected, or assertion "
                             f"({type(e).__name__}: {e})") from e
        if tid not in problems:
            raise ValueError(f"{path}:{lineno}: task_id {tid!r} is not in this benchmark")
        tests.setdefault(tid, []).append(test)
    return tests


def gold_verifier_rows(problems: list[Problem]) -> list[dict]:
    """The benchmark's own asserts, one per row, as a verifier file: the perfect verifier on the base sets."""
    from factory.eval.herank import split_asserts

    return [{"task_id": p.task_id, "assertion": prog} for p in problems for prog in split_asserts(p.assert_tests)]


def verifier_scores(sandbox, problems: dict[str, Problem], rows: list[dict], tests: dict[str, list[tuple]]):
    """Per candidate row, the share of its problem's verifier tests it passes (0.0 with no tests: a verifier that
    wrote nothing ranks nothing). Tests the sandbox failed to run leave the denominator, and are counted."""
    from factory.eval.herank import execute
    from factory.sandbox.verdicts import is_infra

    statuses = execute(sandbox, problems, [(r["task_id"], r["source"], tests.get(r["task_id"], [])) for r in rows])
    scores, faults = [], 0
    for st in statuses:
        ran = [s for s in st if not is_infra(s)]
        faults += len(st) - len(ran)
        scores.append(sum(s == "pass" for s in ran) / len(ran) if ran else 0.0)
    return scores, faults


def scoring_report(rows: list[dict], scores: list[float], tests: dict[str, list], drops) -> dict:
    """The paper's table for one benchmark, with the set's own figures (its Table 1) and every drop counted."""
    from factory.eval.ranking import scoring_metrics

    groups: dict[str, tuple[list, list]] = {}
    for r, s in zip(rows, scores):
        groups.setdefault(r["task_id"], ([], []))
        groups[r["task_id"]][0].append(s)
        groups[r["task_id"]][1].append(r["score"])
    tids = list(groups)
    totals = {r["task_id"]: r["total"] for r in rows}
    metrics = {f"rank_{k}": v for k, v in scoring_metrics(list(groups.values())).items()}
    metrics.update({
        "rank_problems": {"value": len(tids), "count": len(tids) + sum(drops.values())},
        "rank_candidates": {"value": len(rows), "count": len(tids)},
        "rank_true_tests_per_problem": _rate([totals[t] for t in tids]),
        "rank_true_score_mean": _rate([r["score"] for r in rows]),
        "rank_verifier_tests": {"value": sum(len(tests.get(t, [])) for t in tids), "count": len(tids)},
        "rank_problems_without_verifier_tests": {"value": sum(not tests.get(t) for t in tids), "count": len(tids)},
    })
    metrics.update({f"rank_dropped_{k}": {"value": v, "count": len(tids) + sum(drops.values())}
                    for k, v in sorted(drops.items())})
    return metrics
