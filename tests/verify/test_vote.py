"""Majority vote: parsed-literal comparison, type awareness, shares over all samples, tie order."""

import ast
import math

from hypothesis import given, strategies as st

from factory.verify.vote import NO_PARSEABLE_OUTPUT, canonical_key, canonical_literal, majority


def test_compares_parsed_values_not_strings():
    assert majority(["[1,2]", "[1, 2]", " [1 ,2] ", "[2, 1]"]) == ("[1, 2]", 0.75, "")


def test_type_aware_bool_int_float_differ():
    literal, share, reason = majority(["True", "1", "1.0", "1"])
    assert (literal, share, reason) == ("1", 0.5, "")
    assert canonical_key(True) != canonical_key(1) != canonical_key(1.0)
    assert canonical_key((1,)) != canonical_key([1])


def test_unparseable_samples_count_in_the_share():
    assert majority(["5", "the answer is 5", None, "5"]) == ("5", 0.5, "")


def test_none_parse():
    assert majority(["foo(", "", "x + 1"]) == (None, 0.0, NO_PARSEABLE_OUTPUT)
    assert majority([]) == (None, 0.0, NO_PARSEABLE_OUTPUT)


def test_tie_goes_to_first_occurrence():
    assert majority(["'b'", "'a'", "'a'", "'b'"])[0] == "'b'"


def test_sets_dicts_unordered_and_inf_round_trips():
    assert majority(["{1: 'a', 2: 'b'}", "{2: 'b', 1: 'a'}"])[1] == 1.0
    literal, _, _ = majority(["[1e999, -1e999, 'inf']"])
    assert ast.literal_eval(literal)[:2] == [math.inf, -math.inf] and "'inf'" in literal


literals = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(literals, min_size=1, max_size=8), st.integers(0, 4))
def test_winner_is_a_most_common_value_and_round_trips(values, junk):
    samples = [canonical_literal(v) for v in values] + ["not a literal("] * junk
    literal, share, reason = majority(samples)
    keys = [canonical_key(v) for v in values]
    winner = canonical_key(ast.literal_eval(literal))
    assert reason == "" and winner in keys
    assert keys.count(winner) == max(keys.count(k) for k in keys)
    assert math.isclose(share, keys.count(winner) / len(samples))
    # ties: no value with the same count appears before the winner's first occurrence
    assert all(keys.count(k) < keys.count(winner) for k in keys[: keys.index(winner)])
