"""Labels by verify.outputs (predicted | executed | agreed) on real HumanEval code through the real sandbox.

HumanEval/63 (fibfib) on n = 2, 1, 5, 8, 10, 12, 14 (gold 1, 0, 4, 24, 81, 274, 927). What the variants return:
  canonical      1 0 4 24 81 274 927
  two_is_two     2 0 8 48 162 548 1854
  no_third_term  1 0 3 13 34 89 233
  zero_base      1 1 7 44 149 504 1705
  cut_large      1 0 4 24 81 0 0
So the executed majority is gold on the first five inputs and a five-way tie on the last two.
"""

from __future__ import annotations

import pytest

from factory.verify.labels import executed_labels, label_inputs
from tests.stages.test_verification import FIB, HCE, ids, run_verification
from tests.verify import humaneval as he

GOLD = ["1", "0", "4", "24", "81", "274", "927"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each mode with the chosen solutions' consensus taken on the labelled suite (verify.consensus=suite, the
    rule before consensus on every input), and executed with the default consensus on every input."""
    rows = [he.tests_row(*FIB), he.tests_row(*FIB, flip=[6], pid="fib_flipped")]
    out = {mode: run_verification(tmp_path_factory.mktemp(mode), rows, "verify.coverage=false",
                                  f"verify.outputs={mode}", "verify.consensus=suite")
           for mode in ("predicted", "executed", "agreed")}
    out["executed_all"] = run_verification(tmp_path_factory.mktemp("all"), rows, "verify.coverage=false",
                                           "verify.outputs=executed")
    return out


def test_predicted_labels_are_the_vote(runs):
    fib, flipped = runs["predicted"]["HumanEval_63"], runs["predicted"]["fib_flipped"]
    assert fib["labels"] == GOLD and fib["chosen_solution_ids"] == ids("HumanEval_63", 0)
    assert flipped["labels"][6] != GOLD[6] and not flipped["trusted"]   # a wrong majority poisons the suite


def test_executed_labels_come_from_the_solutions(runs):
    for pid in ("HumanEval_63", "fib_flipped"):   # the wrong vote of fib_flipped plays no part
        row = runs["executed"][pid]
        assert row["labels"] == GOLD[:5] + [None, None]
        assert row["label_reasons"] == [""] * 5 + ["tied_agreement"] * 2
        # cut_large agrees with the canonical solution wherever there is a label: the known blind spot of
        # execution agreement, which the trust-precision benchmark measures
        assert row["trusted"] and row["chosen_solution_ids"] == ids(pid, 0, 4)
        assert row["rejected_solution_ids"] == ids(pid, 1, 2, 3)
        # the verifier is rewarded for predicting what the code does: its samples equal to the label are chosen
        assert row["outputs"] == "executed"


def test_consensus_on_every_input_closes_the_blind_spot(runs):
    """cut_large passes every labelled input with the canonical solution but returns 0 on the two inputs the
    programs tied on: the two read the task differently, so they are no consensus (verify.consensus=all)."""
    for pid in ("HumanEval_63", "fib_flipped"):
        row = runs["executed_all"][pid]
        assert row["labels"] == GOLD[:5] + [None, None]   # the same labels as under consensus=suite
        assert not row["trusted"] and row["reason"] == "no_consensus"
        assert row["chosen_solution_ids"] == [] and row["rejected_solution_ids"] == []


def test_consensus_set_groups_programs_by_what_they_do_everywhere():
    from factory.verify.labels import consensus_set

    # a, b and d pass the labelled input 0; on input 1 (unlabelled) a and d return 3, b returns 4; e is a
    # reformatted copy of b: one program, so {b, e} is one program against {a, d}'s two
    row = _row({"a": "def f(x): return 3", "b": "def f(x): return x + 2", "d": "def f(x):\n    return 3 + 0",
                "e": "def f(x):\n    return x + 2  # same"},
               [("a", 0, "returned", "3"), ("b", 0, "returned", "3"), ("d", 0, "returned", "3"),
                ("e", 0, "returned", "3"), ("a", 1, "returned", "3"), ("b", 1, "returned", "4"),
                ("d", 1, "returned", "3"), ("e", 1, "returned", "4")], 2)
    assert consensus_set(row, ["a", "b", "d", "e"]) == ["a", "d"]
    assert consensus_set(row, ["a", "b", "d", "e"], on="suite", suite=[0]) == ["a", "b", "d", "e"]
    assert consensus_set(row, ["a", "b", "e"]) == []    # one program each way: a tie, no consensus
    # an input one of them crashes on (an ill-typed one, mostly) is left out: it tells robustness apart
    crash = _row({"a": "def f(x): return 3", "b": "def f(x): return 1 + 2"},
                 [("a", 0, "returned", "3"), ("b", 0, "returned", "3"), ("a", 1, "runtime_error", None),
                  ("b", 1, "returned", "4")], 2)
    assert consensus_set(crash, ["a", "b"]) == ["a", "b"]


def test_a_suite_that_contradicts_the_statements_own_example_is_not_trusted(tmp_path):
    """verify.examples=check: HumanEval/0 with a doctest added for the suite's first input; the vote labels it
    with the gold answer, the statement says otherwise in one row and agrees in the other."""
    rows = []
    for pid, wrong in (("contradicted", True), ("consistent", False)):
        row = {**he.tests_row(*HCE, pid=pid), "params": ["numbers", "threshold"]}
        stated = he.wrong_value(row["expected"][0]) if wrong else row["expected"][0]
        row["problem"] += f"\n    >>> has_close_elements({row['test_inputs'][0][1:-1]})\n    {stated}\n"
        rows.append(row)
    out = run_verification(tmp_path / "check", rows, "verify.coverage=false")
    assert not out["contradicted"]["trusted"] and out["contradicted"]["reason"] == "contradicts_example"
    assert out["contradicted"]["chosen_solution_ids"] == [] and out["contradicted"]["rejected_solution_ids"] == []
    assert out["consistent"]["trusted"]
    off = run_verification(tmp_path / "off", rows, "verify.coverage=false", "verify.examples=off")
    assert off["contradicted"]["trusted"] and off["contradicted"]["labels"] == out["contradicted"]["labels"]
    # The stated input left unlabelled (a tied vote): the chosen solutions' own value there still contradicts it.
    tied = rows[0]
    tied["output_samples"][0] = [tied["expected"][0]] * 2 + [he.wrong_value(tied["expected"][0])] * 2
    unlabelled = run_verification(tmp_path / "tied", [tied], "verify.coverage=false", "verify.outputs=predicted")
    assert unlabelled["contradicted"]["labels"][0] is None
    assert not unlabelled["contradicted"]["trusted"] and unlabelled["contradicted"]["reason"] == "contradicts_example"


def test_agreed_keeps_inputs_where_both_roles_agree(runs):
    fib, flipped = runs["agreed"]["HumanEval_63"], runs["agreed"]["fib_flipped"]
    assert fib["labels"] == GOLD[:5] + [None, None]
    assert flipped["labels"] == GOLD[:5] + [None, None]
    assert flipped["trusted"] and flipped["chosen_solution_ids"] == ids("fib_flipped", 0, 4)


def test_sft_targets_follow_the_labels(runs, tmp_path):
    from factory.verify.pairs import split_samples

    row = runs["executed"]["fib_flipped"]
    for i in row["test_indices"]:
        good, bad = split_samples(row, i)
        assert all(row["output_samples"][i][j].strip() == row["labels"][i] for j in good)
        assert all(row["output_samples"][i][j].strip() != row["labels"][i] for j in bad)


def _row(solutions: dict[str, str], verdicts: list[tuple[str, int, str, str | None]], n_inputs: int) -> dict:
    return {"solutions": [{"solution_id": sid, "code": code} for sid, code in solutions.items()],
            "verdicts": [{"solution_id": s, "test_index": i, "status": st, "output": out} for s, i, st, out in verdicts],
            "test_inputs": ["[0]"] * n_inputs, "output_samples": [["5", "5", "5", "5"]] * n_inputs}


def test_identical_programs_count_once_and_crashers_do_not_vouch():
    same = "def f(x):\n    return 5\n"
    row = _row({"a": same, "b": "def f(x):  # a comment\n    return 5", "c": "def f(x):\n    return 6 + 0"},
               [("a", 0, "returned", "5"), ("b", 0, "returned", "5"), ("c", 0, "returned", "6")], 1)
    assert executed_labels(row, 2) == ([None], ["tied_agreement"])   # a and b are one program: 1 vs 1
    doc = _row({"a": same, "b": 'def f(x):\n    """Five."""\n    return 5\nprint(f(1))', "c": "def f(x):\n    return 6"},
               [("a", 0, "returned", "5"), ("b", 0, "returned", "5"), ("c", 0, "returned", "6")], 1)
    assert executed_labels(doc, 2) == ([None], ["tied_agreement"])   # a docstring and a demo print change nothing
    crash = _row({"a": "def f(x): return 5", "b": "def f(x): return 4 + 1", "c": "def f(x): return 6"},
                 [("a", 0, "returned", "5"), ("b", 0, "returned", "5"), ("c", 0, "returned", "6"),
                  ("a", 1, "runtime_error", None), ("b", 1, "timeout", None), ("c", 1, "returned", "6")], 2)
    # 5 is held only by programs that crash elsewhere: it does not count; 6 alone is one program short
    assert executed_labels(crash, 2) == ([None, None], ["weak_agreement", "weak_agreement"])
    assert executed_labels(crash, 1) == (["6", "6"], ["", ""])
    # an input every program crashes on is a bad input: it disqualifies nobody
    bad_input = _row({"a": "def f(x): return 5", "b": "def f(x): return 4 + 1"},
                     [("a", 0, "returned", "5"), ("b", 0, "returned", "5"), ("a", 1, "runtime_error", None),
                      ("b", 1, "runtime_error", None)], 2)
    assert executed_labels(bad_input, 2) == (["5", None], ["", "no_outputs"])
    infra = _row({"a": "def f(x): return 5", "b": "def f(x): return 4 + 1"},
                 [("a", 0, "returned", "5"), ("b", 0, "returned", "5"), ("b", 1, "infra_error", None)], 2)
    assert executed_labels(infra, 2) == (["5", None], ["", "no_outputs"])   # an infra fault is not a crash


def test_agreed_needs_both():
    row = _row({"a": "def f(x): return 5", "b": "def f(x): return 4 + 1"},
               [("a", 0, "returned", "5"), ("b", 0, "returned", "5.0"), ("a", 1, "returned", "7"),
                ("b", 1, "returned", "7")], 2)
    row["output_samples"] = [["5", "5", "x", "5"], ["8", "8", "8", "7"]]
    assert label_inputs(row, "agreed") == (["5", None], ["", "predicted_differs_from_executed"])
    assert label_inputs(row, "predicted") == (["5", "8"], ["", ""])


def test_quorum_gives_exactly_the_expected_suite(tmp_path):
    """fibfib with 7 inputs: unanimous, tied (2-2), a single vote among unparseable text, 2 of 5 (below half)."""
    row = he.tests_row(*FIB)
    wrong = [he.wrong_value(g) for g in GOLD]
    row["output_samples"] = [
        [GOLD[0]] * 4,                                     # unanimous            -> label
        [GOLD[1], GOLD[1], wrong[1], wrong[1]],            # tied                 -> tied_vote
        [GOLD[2], "no idea", "", "it returns a number"],   # one vote of four     -> weak_vote
        [GOLD[3], GOLD[3], wrong[3], "7", "8"],            # 2 of 5 = 0.4 < 0.5   -> weak_vote
        [GOLD[4], GOLD[4], GOLD[4], wrong[4]],             # 3 of 4               -> label
        ["x", "y", "", "z"],                               # nothing parses       -> no_parseable_output
        [GOLD[6], GOLD[6], "oops", "?"],                   # 2 of 4 = 0.5         -> label
    ]
    row["output_reasoning"] = [[f"Output: {o}" for o in outs] for outs in row["output_samples"]]
    out = run_verification(tmp_path, [row], "verify.coverage=false", "verify.outputs=predicted")["HumanEval_63"]
    assert out["labels"] == [GOLD[0], None, None, None, GOLD[4], None, GOLD[6]]
    assert out["label_reasons"] == ["", "tied_vote", "weak_vote", "weak_vote", "", "no_parseable_output", ""]
    assert out["trusted"] and sorted(out["test_indices"]) == [0, 4, 6]
    assert [t["expected"] for t in sorted(out["tests"], key=lambda t: t["inputs"])] == \
        [t for _, t in sorted(zip(out["test_inputs"], out["labels"])) if t is not None]
    from factory.executors.shards import read_stats
    stats = read_stats(tmp_path / "verification")[0]
    assert stats["dropped"] == {"tied_vote": 1, "weak_vote": 2, "no_parseable_output": 1}
    # min_tests: three labelled tests are too few when four are required
    thin = run_verification(tmp_path / "thin", [row], "verify.coverage=false", "verify.outputs=predicted",
                            "verify.min_tests=4")["HumanEval_63"]
    assert not thin["trusted"] and thin["reason"] == "too_few_tests" and thin["rejected_solution_ids"] == []


def test_executed_trust_needs_a_consensus_of_programs(tmp_path):
    """Inputs labelled by different pairs of programs: `c` agrees with `a` on input 0 and with `b` on input 1,
    so only `c` passes both; one program alone is not a consensus (CodeT), the problem is not trusted."""
    from factory.config import load_config
    from factory.stages.verification import Verification

    stage = Verification(verify=load_config(["verify.outputs=executed", "verify.coverage=false"]).verify,
                         sandbox=load_config([]).sandbox)
    stage.setup()
    row = _row({"a": "def f(x): return 1", "b": "def f(x): return 2 + 0", "c": "def f(x): return x"},
               [("a", 0, "returned", "1"), ("b", 0, "returned", "2"), ("c", 0, "returned", "1"),
                ("a", 1, "returned", "1"), ("b", 1, "returned", "2"), ("c", 1, "returned", "2")], 2)
    row.update(problem_id="p", test_inputs=["[1]", "[2]"])
    out, suite = stage._decide(row)
    assert out["labels"] == ["1", "2"] and suite == [0, 1]
    assert not out["trusted"] and out["reason"] == "no_consensus" and out["chosen_solution_ids"] == []
    row["solutions"].append({"solution_id": "d", "code": "def f(x):\n    return int(x)"})
    row["verdicts"] += [{"solution_id": "d", "test_index": i, "status": "returned", "output": o}
                        for i, o in ((0, "1"), (1, "2"))]
    out, _ = stage._decide(row)
    assert out["trusted"] and out["chosen_solution_ids"] == ["c", "d"]
