"""HE-R / MBPP-R: per-assert true scores, the paper's candidate selection, its metrics, the Parquet cache and the
CLI, with the real sandbox. The perfect verifier is the benchmark's own asserts; the constant one an `assert True`.
"""

import json
import math

import pyarrow.parquet as pq
import pytest

from factory.cli import main
from factory.eval import herank
from factory.eval.benchmarks import load_benchmark
from factory.eval.candidates import gold_verifier_rows
from factory.eval.ranking import bottom1, scoring_metrics

MBPP_SAMPLE = "tests/eval/data/mbpp-py-reworded-sample.json"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_split_asserts_one_program_per_assert():
    program = ("def check(candidate):\n    x = 2\n    assert candidate(x) == 4\n    assert True, 'placeholder'\n"
               "    for i in range(3):\n        assert candidate(i) == 2 * i\ncheck(f)\n")
    parts = herank.split_asserts(program)
    assert len(parts) == 2   # `assert True` tests nothing
    # Each program judges its own assert: right at 2 only passes the first and fails the loop.
    outcomes = []
    for solution in (lambda v: 2 * v, lambda v: 4 if v == 2 else 0):
        for part in parts:
            try:
                exec(part, {"f": solution})
                outcomes.append(True)
            except AssertionError:
                outcomes.append(False)
    assert outcomes == [True, True, True, False]
    he = load_benchmark("humaneval", limit=1)[0]
    assert len(herank.split_asserts(he.assert_tests)) == 7   # HumanEval/0's check has 7 asserts


def _c(score):
    return {"score": score, "kind": "mutant", "source": str(score)}


def test_select_is_the_papers_even_spread():
    ref = {"score": 1.0, "kind": "gold", "source": "ref"}
    others = [_c(s) for s in (1.0, 0.9, 0.8, 0.75, 0.5, 0.5, 0.3, 0.05, 0.0)]
    chosen = herank.select(ref, others, 5)
    # Pool 0.9 .. 0.0 without the extra 1.0 and the second 0.5; bottom 0.05 (a near miss beats 0.0); targets
    # 1 - t/4 * 0.95 for t = 1, 2, 3 = 0.7625, 0.525, 0.2875.
    assert [c["score"] for c in chosen] == [1.0, 0.75, 0.5, 0.3, 0.05]
    assert [c["score"] for c in herank.select(ref, others[:3], 5)] == [1.0, 0.9, 0.8]


def test_scoring_metrics_constant_verifier_chance_values_by_hand():
    # Three problems with 3, 2 and 4 candidates of distinct true scores; the verifier scores everything 0.5.
    gold = [[1.0, 0.5, 0.0], [1.0, 0.25], [1.0, 0.75, 0.5, 0.0]]
    m = scoring_metrics([([0.5] * len(g), g) for g in gold])
    chance = (1 / 3 + 1 / 2 + 1 / 4) / 3
    assert m["top1"] == {"value": pytest.approx(chance), "count": 3}
    assert m["bottom1"]["value"] == pytest.approx(chance)
    assert m["spearman"]["value"] == 0.0 and m["kendall"]["value"] == 0.0   # undefined counts as no skill
    # |0.5 - g| over the 9 candidates: 0.5 0 0.5 | 0.5 0.25 | 0.5 0.25 0 0.5 = 3.0
    assert m["mae"] == {"value": pytest.approx(3.0 / 9), "count": 9}
    assert bottom1([0.9, 0.1, 0.1], [1.0, 0.5, 0.0]) == 0.5
    perfect = scoring_metrics([(g, g) for g in gold])
    assert {k: v["value"] for k, v in perfect.items()} == {"top1": 1.0, "bottom1": 1.0, "spearman": 1.0,
                                                             "kendall": 1.0, "mae": 0.0}


def _evaluate(run, bench, verifier, *extra):
    samples = [] if any("rank.samples" in e for e in extra) else ["++eval.rank.samples=0"]
    args = ["evaluate", f"benchmark={bench}", f"run_dir={run}", "sandbox.timeout=3", "wandb.enabled=false",
            *samples] + ([f"samples={verifier}"] if verifier else []) + list(extra)
    assert main(args) == 0
    return json.loads((run / "eval" / f"{bench}.json").read_text())["metrics"]


def test_he_r_gold_verifier_is_perfect_constant_is_chance_and_the_set_is_cached(tmp_path, monkeypatch):
    problems = load_benchmark("humaneval", limit=3)
    gold, const = tmp_path / "gold.jsonl", tmp_path / "const.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in gold_verifier_rows(problems)))
    const.write_text("".join(json.dumps({"task_id": p.task_id, "assertion": "assert True"}) + "\n"
                             for p in problems))
    run = tmp_path / "run"
    m = _evaluate(run, "he-r", gold, "++eval.limit=3")
    assert m["rank_top1"] == {"value": 1.0, "count": 3} and m["rank_spearman"]["value"] == 1.0
    assert m["rank_bottom1"]["value"] == 1.0 and m["rank_kendall"]["value"] == 1.0 and m["rank_mae"]["value"] == 0
    cache = run / "eval" / "he-r" / "candidates.parquet"
    rows = pq.read_table(cache).to_pylist()
    by_task = {}
    for r in rows:
        by_task.setdefault(r["task_id"], []).append(r)
    assert set(by_task) == {p.task_id for p in problems}
    for tid, rs in by_task.items():
        assert rs[0]["kind"] == "gold" and rs[0]["score"] == 1.0 and [r["rank"] for r in rs] == list(
            range(1, len(rs) + 1))
        assert len({r["score"] for r in rs}) == len(rs) >= 2   # distinct true scores
    # The constant verifier, on the same (cached) sets: chance values from their true scores, by hand.
    with monkeypatch.context() as patched:
        patched.setattr(herank, "build", lambda *a, **k: pytest.fail("the cached candidate set was rebuilt"))
        c = _evaluate(run, "he-r", const, "++eval.limit=3")
    sizes = [len(rs) for rs in by_task.values()]
    assert c["rank_top1"]["value"] == pytest.approx(sum(1 / n for n in sizes) / 3)
    assert c["rank_bottom1"]["value"] == pytest.approx(sum(1 / n for n in sizes) / 3)
    assert c["rank_spearman"]["value"] == 0.0 and c["rank_kendall"]["value"] == 0.0
    assert c["rank_mae"]["value"] == pytest.approx(sum(1 - r["score"] for r in rows) / len(rows))
    # Other settings: rebuilt, and the cache says so.
    _evaluate(run, "he-r", const, "++eval.limit=3", "++eval.rank.size=2")
    assert {len([r for r in pq.read_table(cache).to_pylist() if r["task_id"] == t]) for t in by_task} == {2}


def test_he_r_plus_needs_a_file_and_adds_its_tests(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["evaluate", "benchmark=he-r+", f"run_dir={run}", "wandb.enabled=false"]) == 2
    assert "eval.rank.plus_tests" in capsys.readouterr().err
    plus = tmp_path / "plus.jsonl"
    # EvalPlus rows (expected from the gold solution) and explicit inputs/expected rows.
    plus.write_text(json.dumps({"task_id": "HumanEval/0", "plus_input": [[[1.0, 1.5], 0.6], [[1.0, 9.0], 1.0]]})
                    + "\n" + json.dumps({"task_id": "HumanEval/1", "inputs": "['(())']", "expected": "['(())']"})
                    + "\n" + json.dumps({"task_id": "HumanEval/99", "inputs": "[1]", "expected": "1"}) + "\n")
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in gold_verifier_rows(load_benchmark("humaneval", limit=2))))
    m = _evaluate(run, "he-r+", gold, "++eval.limit=2", f"++eval.rank.plus_tests={plus}")
    rows = pq.read_table(run / "eval" / "he-r+" / "candidates.parquet").to_pylist()
    totals = {r["task_id"]: r["total"] for r in rows}
    assert totals == {"HumanEval/0": 7 + 2, "HumanEval/1": 4 + 1}
    assert m["rank_problems"]["value"] == 2 and m["rank_top1"]["value"] == 1.0


def test_mbpp_reference_is_a_passing_sample(sandbox):
    problems = load_benchmark("mbpp", MBPP_SAMPLE)[:2]
    first, second = problems
    right = first.stub + "    return all(v == n for v in dict.values())\n"
    wrong = first.stub + "    return False\n"   # passes the first and third asserts only
    rows, drops = herank.build(sandbox, problems, {first.task_id: [wrong, right], second.task_id: [wrong]},
                               None, 5, 5, 2)
    assert drops["no_reference"] == 1   # the second problem has no passing sample
    mine = [r for r in rows if r["task_id"] == first.task_id]
    assert mine[0]["source"] == right and mine[0]["kind"] == "sample" and mine[0]["score"] == 1.0
    assert any(r["source"] == wrong and r["passed"] == 2 and r["total"] == 3 for r in mine)


def test_he_r_with_the_tiny_model_as_verifier(tmp_path):
    run = tmp_path / "run"
    m = _evaluate(run, "he-r", None, "model=tiny", "++eval.limit=2", "++eval.rank.samples=2",
                  "++eval.max_tokens=24", "++eval.output_max_tokens=16", "++eval.num_inputs=2")
    for name in ("rank_top1", "rank_bottom1", "rank_spearman", "rank_kendall", "rank_mae"):
        assert m[name]["count"] > 0 and not math.isnan(m[name]["value"])
    results = [json.loads(x) for x in (run / "eval" / "he-r_ranking.jsonl").read_text().splitlines()]
    assert len(results) == m["rank_candidates"]["value"]
