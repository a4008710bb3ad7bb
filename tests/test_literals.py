"""The one answer equality (factory/literals.py): the documented rules, and an equivalence relation."""

import pytest
from hypothesis import given, strategies as st

from factory.literals import same_literal
from factory.sandbox.verdicts import outputs_equal
from factory.verify.select import constant_function_passes

# (a, b, same?) -- the table in docs/verification.md
RULES = [
    ("True", "1", False), ("False", "0", False), ("True", "True", True),
    ("1", "1.0", True), ("3", "2.9999999999", True), ("0.1 + 0.2", "0.3", False),   # not a literal
    ("0.30000000000000004", "0.3", True), ("0.3", "0.31", False), ("123456789", "123456789.0", True),
    ("123456789", "123456788", False), ("[1, 2]", "(1, 2)", False), ("[1, 2]", "[1,2]", True),
    ("{1, 2}", "{2, 1}", True), ("{'a': 1, 'b': 2}", "{'b': 2, 'a': 1}", True), ("{1: [1]}", "{1: (1,)}", False),
    ("float('nan')", "float('nan')", True), ("-0.0", "0.0", True), ("'a'", "'a '", False), ("'a'", '"a"', True),
    ("None", "None", True), ("None", "0", False), ("1e999", "1e999", True), ("1e999", "-1e999", False),
    ("not a literal", "not a literal", False), ("", "", False),
]


@pytest.mark.parametrize("a,b,same", RULES)
def test_documented_rules(a, b, same):
    assert same_literal(a, b) is same and same_literal(b, a) is same
    assert outputs_equal(a, b) is same   # the sandbox's check is the same function


def test_constant_function_check_uses_the_same_equality():
    assert constant_function_passes(["1", "1.0", "1"])
    assert not constant_function_passes(["1", "True", "1"])


values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, -0.0, 1.0, 0.5, 1e-7, 2.9999999999,
                                                                     float("nan"), float("inf")]) | st.text(max_size=2),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.sets(st.integers(0, 3), max_size=3)
    | st.dictionaries(st.integers(0, 3), inner, max_size=2),
    max_leaves=6,
)


def lit(v) -> str:
    from factory.verify.vote import canonical_literal
    return canonical_literal(v)


@given(values, values, values)
def test_equivalence_relation(a, b, c):
    a, b, c = lit(a), lit(b), lit(c)
    assert same_literal(a, a)
    assert same_literal(a, b) == same_literal(b, a)
    if same_literal(a, b) and same_literal(b, c):
        assert same_literal(a, c)
