"""Verifier ranking metrics (Scoring Verifiers, HE-R / MBPP-R): how well test scores order candidate solutions.

Per problem there are candidates with a known gold pass rate (share of the benchmark's tests they pass) and a
verifier score (share of the verifier's generated tests they pass). Metrics are computed per problem and
averaged over problems:
  top1      the highest-scored candidate has the best gold rate. Ties in score count fractionally: with three
            candidates tied at the top of which one is best, the problem scores 1/3 (an honest random pick).
  spearman  rank correlation, average ranks for ties; kendall: tau-b (tie-corrected). Both are undefined when
            either side is constant, so such problems are left out of them (and counted).
  mae       mean absolute error between score and gold rate.
`scoring_metrics` is the Scoring Verifiers paper's table (its evaluate.py) for HE-R / MBPP-R, where each
problem's gold scores are distinct: top-1 and bottom-1 with the same fractional credit for ties, Spearman and
Kendall tau per problem with an undefined value counted as 0 (a verifier that scores every candidate alike has
no ranking skill, it is not left out), MAE over all candidates pooled.
Pure functions; no scipy needed (tests check them against hand-computed values).
"""

from __future__ import annotations

import math


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return math.nan
    return sxy / math.sqrt(sxx * syy)


def spearman(x: list[float], y: list[float]) -> float:
    return _pearson(_ranks(x), _ranks(y))


def kendall_tau_b(x: list[float], y: list[float]) -> float:
    concordant = discordant = ties_x = ties_y = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denom if denom else math.nan


def top1(scores: list[float], gold: list[float]) -> float:
    best_score, best_gold = max(scores), max(gold)
    picked = [g for s, g in zip(scores, gold) if s == best_score]
    return sum(g == best_gold for g in picked) / len(picked)


def bottom1(scores: list[float], gold: list[float]) -> float:
    """top1 mirrored: the lowest-scored candidate is the worst one (ties count fractionally)."""
    return top1([-s for s in scores], [-g for g in gold])


def mae(scores: list[float], gold: list[float]) -> float:
    return sum(abs(s - g) for s, g in zip(scores, gold)) / len(scores)


def ranking_metrics(problems: list[tuple[list[float], list[float]]], prefix: str = "ranking_") -> dict[str, dict]:
    """`problems`: per problem, (verifier scores, gold pass rates) of its candidates, same order.
    Problems with fewer than two candidates say nothing about ranking and are skipped."""
    usable = [(s, g) for s, g in problems if len(s) >= 2]
    out = {}
    for name, fn in (("top1", top1), ("spearman", spearman), ("kendall", kendall_tau_b), ("mae", mae)):
        values = [v for v in (fn(s, g) for s, g in usable) if not math.isnan(v)]
        out[prefix + name] = {"value": sum(values) / len(values) if values else math.nan, "count": len(values)}
    out[prefix + "candidates"] = {"value": sum(len(s) for s, _ in usable), "count": len(usable)}
    return out


def scoring_metrics(problems: list[tuple[list[float], list[float]]]) -> dict[str, dict]:
    """The paper's metrics over `problems` = per problem (verifier scores, true scores), same order; counts are
    problems (candidates for MAE)."""
    def per_problem(fn):
        values = [fn(s, g) for s, g in problems]
        values = [0.0 if math.isnan(v) else v for v in values]
        return {"value": sum(values) / len(values) if values else math.nan, "count": len(values)}

    pooled = [abs(a - b) for s, g in problems for a, b in zip(s, g)]
    return {"top1": per_problem(top1), "bottom1": per_problem(bottom1), "spearman": per_problem(spearman),
            "kendall": per_problem(kendall_tau_b),
            "mae": {"value": sum(pooled) / len(pooled) if pooled else math.nan, "count": len(pooled)}}
