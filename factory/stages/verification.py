"""Cross-verification: executions -> trusted suites, scores, chosen and rejected solutions (paper 3.1-3.2, 4.4).

Per problem: each test input gets a label (`verify.outputs`: the verifier's vote with a quorum, the solutions'
executed majority, or both agreeing; factory/verify/labels.py), every returned value is re-judged against it, the
suite T is every labelled input (at least `verify.min_tests`), solutions are scored on T and the rule (strict or
relaxed, factory/verify/rules.py) decides. For a trusted problem, the best chosen
solution is re-run on the tests it passes with coverage on, and coverage-greedy selection keeps k diverse
tests; a suite a constant function would pass is untrusted. With `verify.ensemble`, chosen solutions must also
pass the trusted suites of earlier iterations. Every row is kept, trusted or not, with the reason: the share of
trusted problems is the "agreement" the paper reports (45% in iteration 1).

Sandbox runs (coverage, ensemble) are batched over the whole batch of rows. Soft verification (an LLM judgement)
is its own stage after this one (factory/stages/soft.py), so this stage never asks for GPUs.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf

from factory.sandbox import ray_resources
from factory.schema import VERIFICATION
from factory.stages.base import Dropped, Stage
from factory.literals import same_literal
from factory.verify import boundary, examples, labels, pairs, rules, select
from factory.verify.kinds import mismatched_label

HISTOGRAM = ((0.0, "0"), (0.25, "(0,0.25]"), (0.5, "(0.25,0.5]"), (0.75, "(0.5,0.75]"), (0.999999, "(0.75,1)"))


def _plain(cfg) -> SimpleNamespace:
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    return SimpleNamespace(**{k: SimpleNamespace(**v) if isinstance(v, dict) else v for k, v in data.items()})


def load_earlier_suites(folders) -> dict[str, list[dict]]:
    """problem_id -> trusted tests, from earlier iterations' verification folders (suites concatenated)."""
    suites: dict[str, list[dict]] = {}
    for folder in folders or []:
        files = sorted(Path(folder).glob("shard-*.parquet"))
        if not files:
            raise FileNotFoundError(f"verify.ensemble: no shard-*.parquet in {folder}")
        for path in files:
            for r in pq.read_table(path, columns=["problem_id", "trusted", "tests"]).to_pylist():
                if r["trusted"] and r["tests"]:
                    suites.setdefault(r["problem_id"], []).extend(r["tests"])
    return suites


@dataclasses.dataclass
class Verification(Stage):
    name = "verification"
    schema = VERIFICATION
    requires = ("problem_id", "problem", "signature", "entry_point", "solutions", "test_inputs",
                "output_samples", "expected", "verdicts")
    verify: Any = None    # cfg.verify
    sandbox: Any = None   # cfg.sandbox: coverage runs and ensemble checks

    def __post_init__(self):
        # A plain copy of cfg.verify: OmegaConf attribute access costs ~0.1 ms, paid per row otherwise.
        self.opts = _plain(self.verify)
        v = self.opts
        rules.check_rule(v.rule, float(v.tau), v.rejected)
        labels.check_mode(v.outputs, v.min_agree, getattr(v, "consensus", "suite"))
        if getattr(v, "examples", "off") not in ("check", "off"):
            raise ValueError(f"verify.examples={v.examples!r}: expected check or off")
        if not 0 < float(v.max_same_output) <= 1:
            raise ValueError(f"verify.max_same_output={v.max_same_output!r}: expected a number in (0, 1]")

    def _sandbox_on(self) -> bool:
        return bool(self.opts.coverage or list(self.opts.ensemble or []))

    def resources(self) -> dict[str, Any]:
        return ray_resources(self.sandbox) if self._sandbox_on() else {"num_cpus": 1}

    def setup(self) -> None:
        self._box = None
        self._earlier = load_earlier_suites(list(self.opts.ensemble or []))
        if self._sandbox_on():
            from factory.sandbox import make_sandbox
            self._box = make_sandbox(self.sandbox)

    def teardown(self) -> None:
        if getattr(self, "_box", None) is not None:
            self._box.close()
            self._box = None

    def process(self, rows):
        if not hasattr(self, "_earlier"):
            raise RuntimeError("Verification.setup() was not called")
        states = [self._decide(r) for r in rows]
        if self._earlier:
            self._ensemble(states)
        self._select(states)
        for out, _ in states:
            # An input that got no label left the suite: report it as a dropped part, with why.
            for i, (label, reason) in enumerate(zip(out["labels"], out["label_reasons"])):
                if label is None:
                    yield Dropped(f"{out['problem_id']}/test{i}", reason, repr(out["output_samples"][i])[:500])
            yield out

    def _decide(self, row: dict) -> tuple[dict, list[int]]:
        v = self.opts
        found, reasons = labels.label_inputs(row, v.outputs, min_votes=int(v.min_votes), min_share=float(v.min_share),
                                             min_agree=int(v.min_agree))
        verdicts = labels.rejudge(row["verdicts"], found)
        suite = [i for i, label in enumerate(found) if label is not None]
        ids = [s["solution_id"] for s in row["solutions"]]
        scores = rules.scores_for(ids, verdicts, suite)
        d = rules.decide(ids, scores, rule=v.rule, tau=float(v.tau), rejected=v.rejected, n_tests=len(suite),
                         key=row["problem_id"], unscored=rules.infra_solutions(row["verdicts"]))
        out = {**row, "verdicts": verdicts, "labels": found, "label_reasons": reasons, "outputs": v.outputs,
               "trusted": d.trusted, "rule": d.rule, "reason": d.reason, "tests": [], "test_indices": [],
               "scores": scores, "chosen_solution_ids": d.chosen, "rejected_solution_ids": d.rejected,
               "coverage": None}
        if d.trusted and len(set(suite) - boundary.indices(row)) < int(v.min_tests):
            # Two or three agreeing tests are too thin to trust a solution on (and to train a verifier on). Boundary
            # inputs do not count: they split programs, but `[]` -> [] and `[1]` -> [1] would make a suite of one
            # real test thick enough to trust a list copy.
            out.update(trusted=False, reason="too_few_tests", chosen_solution_ids=[], rejected_solution_ids=[])
        elif d.trusted and v.outputs != "predicted":
            # Labels from execution: each input may be labelled by a different pair of programs, so one program
            # can pass them all alone. CodeT's consensus set: the chosen programs must agree on the whole suite,
            # and (verify.consensus=all) on the inputs left unlabelled too. Chosen solutions outside the
            # consensus are neither chosen nor rejected: no label proves them wrong.
            agreed = labels.consensus_set(row, d.chosen, getattr(v, "consensus", "suite"), suite)
            if labels.distinct_programs(row, agreed) < int(v.min_agree):
                out.update(trusted=False, reason="no_consensus", chosen_solution_ids=[], rejected_solution_ids=[])
            else:
                out["chosen_solution_ids"] = agreed
        if out["trusted"] and getattr(v, "examples", "off") == "check" and \
                contradicts_example(row, found, out["chosen_solution_ids"]):
            # The statement says f(x) == y and the trusted solutions return z: the solutions misread it, or the
            # statement is wrong; a solver row pairing that prompt with that code is wrong either way.
            out.update(trusted=False, reason="contradicts_example", chosen_solution_ids=[], rejected_solution_ids=[])
        if out["trusted"] and getattr(v, "types", "off") == "check" and mismatched_label(row, found) is not None:
            # `-> int` and the agreeing programs return '123': they agree on not doing the task.
            out.update(trusted=False, reason="label_type_mismatch", chosen_solution_ids=[], rejected_solution_ids=[])
        return out, suite

    def _ensemble(self, states) -> None:
        """Iteration ensemble: a chosen solution that fails an earlier trusted suite is demoted to rejected."""
        from factory.sandbox import Case, IOTest

        jobs = [(out, s) for out, _ in states if out["trusted"] and out["problem_id"] in self._earlier
                for s in out["solutions"] if s["solution_id"] in out["chosen_solution_ids"]]
        cases = [Case(id=s["solution_id"], solution=s["code"], entry_point=out["entry_point"],
                      tests=[IOTest(t["inputs"], t["expected"]) for t in self._earlier[out["problem_id"]]])
                 for out, s in jobs]
        for (out, s), verdicts in zip(jobs, self._box.run(cases) if cases else []):
            if all(v.status == "pass" for v in verdicts):
                continue
            out["chosen_solution_ids"] = [c for c in out["chosen_solution_ids"] if c != s["solution_id"]]
            if not rules.infra_solutions([{"solution_id": s["solution_id"], "status": v.status} for v in verdicts]):
                out["rejected_solution_ids"] = out["rejected_solution_ids"] + [s["solution_id"]]   # a real fail
            if not out["chosen_solution_ids"]:
                out["trusted"], out["reason"] = False, "fails_earlier_suite"

    def _select(self, states) -> None:
        v = self.opts
        jobs = []
        for out, suite in states:
            if not out["trusted"]:
                continue
            ref = max(out["chosen_solution_ids"], key=lambda c: out["scores"][self._pos(out, c)])
            passed = rules.passed_tests(x for x in out["verdicts"] if x["solution_id"] == ref).get(ref, set())
            candidates = [i for i in suite if i in passed]
            jobs.append((out, ref, candidates))
        branches = [{} for _ in jobs]
        if v.coverage and jobs:
            from factory.sandbox import Case, IOTest

            cases = [Case(id=ref, solution=self._code(out, ref), entry_point=out["entry_point"],
                          tests=[IOTest(out["test_inputs"][i], out["labels"][i]) for i in cand])
                     for out, ref, cand in jobs]
            for b, (_, _, cand), verdicts in zip(branches, jobs, self._box.run(cases, coverage=True)):
                b.update({i: set(x.branches or ()) for i, x in zip(cand, verdicts)})
        for (out, _, cand), b in zip(jobs, branches):
            expected = {i: out["labels"][i] for i in cand}
            chosen = select.greedy_coverage(cand, b, expected, int(v.num_tests), float(v.max_same_output))
            if v.drop_constant and select.constant_function_passes([expected[i] for i in chosen]):
                out["trusted"], out["reason"] = False, "constant_function_suite"
                continue
            out["test_indices"] = chosen
            out["tests"] = [{"inputs": out["test_inputs"][i], "expected": out["labels"][i]} for i in chosen]
            out["coverage"] = select.coverage_fraction(chosen, b) if v.coverage else None

    @staticmethod
    def _pos(out: dict, solution_id: str) -> int:
        return next(i for i, s in enumerate(out["solutions"]) if s["solution_id"] == solution_id)

    @staticmethod
    def _code(out: dict, solution_id: str) -> str:
        return out["solutions"][Verification._pos(out, solution_id)]["code"]

    def shard_metrics(self, rows_out: list[dict]) -> dict:
        return verification_metrics(rows_out)


def contradicts_example(row: dict, found: list, chosen: list[str] = ()) -> bool:
    """An input for which the problem statement gives an output (factory/verify/examples.py) and its label, or a
    value a chosen solution returned there, differs. The chosen solutions count too because an input may stay
    unlabelled (a split vote, no samples): identity functions trusted on two voted tests while returning
    'Example 1' where the statement says fix_spaces("Example 1") == "Example_1" (HumanEval/140)."""
    if not row.get("problem") or not row.get("entry_point"):
        return False
    stated = examples.stated_outputs(row["problem"], row["entry_point"], list(row.get("params") or []))
    if any(label is not None and inp in stated and not same_literal(label, stated[inp])
           for inp, label in zip(row["test_inputs"], found)):
        return True
    ids = set(chosen)
    for v in row["verdicts"]:
        if v["solution_id"] not in ids or v["status"] not in labels.RETURNED or v["output"] is None:
            continue
        inp = row["test_inputs"][int(v["test_index"])]
        if inp in stated and not same_literal(v["output"], stated[inp]):
            return True
    return False


def _bucket(score: float) -> str:
    return next((label for top, label in HISTOGRAM if score <= top), "1")


def _error_type(v: dict) -> str:
    if v["status"] == "runtime_error" and v["detail"]:
        return "runtime_error:" + v["detail"].split(":", 1)[0].strip()[:40]
    return v["status"]


def verification_metrics(rows: list[dict]) -> dict:
    """Agreement, pass-rate histogram, error types and pairs per role for one shard."""
    trusted = sum(1 for r in rows if r["trusted"])
    pair_counts: Counter = Counter()
    for r in rows:
        pair_counts.update(f"sft_{p['role']}" for p in pairs.sft_rows(r))
        pair_counts.update(f"dpo_{p['role']}" for p in pairs.dpo_rows(r))
    return {
        "problems": len(rows),
        "trusted": trusted,
        "agreement": round(trusted / len(rows), 4) if rows else 0.0,
        "untrusted_reasons": dict(Counter(r["reason"] for r in rows if not r["trusted"])),
        "pass_rate_histogram": dict(Counter(_bucket(s) for r in rows for s in r["scores"])),
        "error_types": dict(Counter(_error_type(v) for r in rows for v in r["verdicts"] if v["status"] != "pass")),
        "pairs": dict(pair_counts),
    }
