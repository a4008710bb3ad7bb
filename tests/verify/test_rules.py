"""Scoring invariants of the strict and relaxed rules (hypothesis), plus the config errors they raise."""

import pytest
from hypothesis import given, strategies as st

from factory.verify.rules import EPS, check_rule, decide, passed_tests, score, scores_for

suites = st.lists(st.integers(0, 9), min_size=1, max_size=10, unique=True)
# Scores that a real suite can produce: k/n for n tests.
score_lists = st.integers(1, 8).flatmap(lambda n: st.lists(st.integers(0, n).map(lambda k: k / n), min_size=1, max_size=8))
taus = st.sampled_from([0.5, 0.6, 0.75, 0.8, 0.9, 1.0])


def ids(n):
    return [f"p/s{i}" for i in range(n)]


@given(st.sets(st.integers(0, 9)), suites)
def test_score_is_the_passed_fraction(passed, suite):
    s = score(passed, suite)
    assert 0.0 <= s <= 1.0
    assert s == len(passed & set(suite)) / len(suite)
    assert score(set(suite), suite) == 1.0 and score(set(), suite) == 0.0


def test_missing_verdict_counts_as_fail():
    verdicts = [{"solution_id": "a", "test_index": 0, "status": "pass"},
                {"solution_id": "a", "test_index": 1, "status": "timeout"}]
    assert passed_tests(verdicts) == {"a": {0}}
    assert scores_for(["a", "b"], verdicts, [0, 1, 2]) == [1 / 3, 0.0]


@given(score_lists)
def test_strict_partitions_solutions(scores):
    sids = ids(len(scores))
    d = decide(sids, scores, rule="strict")
    assert set(d.chosen) | set(d.rejected) == set(sids) and not set(d.chosen) & set(d.rejected)
    assert all(scores[sids.index(c)] == 1.0 for c in d.chosen)
    assert all(scores[sids.index(r)] < 1.0 for r in d.rejected)
    assert d.trusted == (1.0 in scores) and d.rule == "strict"
    assert d.reason == ("" if d.trusted else "no_solution_passes")


@given(score_lists, taus, st.sampled_from(["random", "lowest", "median"]))
def test_relaxed_threshold_and_single_rejected(scores, tau, strategy):
    sids = ids(len(scores))
    d = decide(sids, scores, rule="relaxed", tau=tau, rejected=strategy, key="p")
    below = [(s, x) for s, x in zip(sids, scores) if x < tau - EPS]
    assert d.chosen == [s for s, x in zip(sids, scores) if x >= tau - EPS]
    assert d.trusted == bool(d.chosen)
    assert len(d.rejected) == (1 if below else 0)
    if below:
        pick = scores[sids.index(d.rejected[0])]
        ranked = sorted(x for _, x in below)
        if strategy == "lowest":
            assert pick == ranked[0]
        if strategy == "median":
            assert pick == ranked[(len(ranked) - 1) // 2]
    # the same key gives the same pick: a retried shard writes the same data
    assert decide(sids, scores, rule="relaxed", tau=tau, rejected=strategy, key="p") == d


@given(score_lists, taus, taus)
def test_lower_tau_never_shrinks_chosen(scores, t1, t2):
    lo, hi = sorted((t1, t2))
    sids = ids(len(scores))
    a = decide(sids, scores, rule="relaxed", tau=lo, rejected="lowest")
    b = decide(sids, scores, rule="relaxed", tau=hi, rejected="lowest")
    assert set(b.chosen) <= set(a.chosen)


@given(score_lists)
def test_relaxed_at_tau_one_chooses_like_strict(scores):
    sids = ids(len(scores))
    assert decide(sids, scores, rule="relaxed", tau=1.0, rejected="lowest").chosen == decide(sids, scores).chosen


def test_empty_inputs_are_untrusted_with_a_reason():
    assert decide([], []).reason == "no_solutions"
    assert decide(["a"], [0.0], n_tests=0).reason == "no_tests"


@pytest.mark.parametrize("rule,tau,rejected,field", [
    ("lenient", 1.0, "random", "verify.rule"), ("relaxed", 0.0, "random", "verify.tau"),
    ("relaxed", 0.8, "best", "verify.rejected"), ("strict", 0.8, "random", "verify.tau")])
def test_bad_rule_settings_name_the_field(rule, tau, rejected, field):
    with pytest.raises(ValueError, match=field):
        check_rule(rule, tau, rejected)
