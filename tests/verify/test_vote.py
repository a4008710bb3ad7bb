"""Majority vote: one equality (factory/literals.py), shares over all samples, the quorum, ties untrusted."""

import ast
import math

from hypothesis import given, strategies as st

from factory.literals import answer_key, literal_key, same_literal
from factory.verify.pairs import agrees
from factory.verify.vote import NO_PARSEABLE_OUTPUT, TIED_VOTE, WEAK_VOTE, canonical_literal, majority


def test_compares_parsed_values_not_strings():
    assert majority(["[1,2]", "[1, 2]", " [1 ,2] ", "[2, 1]"]) == ("[1, 2]", 0.75, "")


def test_bool_is_not_int_but_int_meets_float():
    # The example: the vote used to pick 1 while the verifier target was the sample `True`.
    assert majority(["True", "1", "1", "7"], 2, 0.5) == ("1", 0.5, "")
    assert not agrees("True", "1")
    assert majority(["1", "1.0", "True", "x"], 2, 0.5) == ("1", 0.5, "")
    assert answer_key((1,)) != answer_key([1])


def test_unparseable_samples_count_in_the_share():
    assert majority(["5", "the answer is 5", None, "5"]) == ("5", 0.5, "")


def test_none_parse():
    assert majority(["foo(", "", "x + 1"]) == (None, 0.0, NO_PARSEABLE_OUTPUT)
    assert majority([]) == (None, 0.0, NO_PARSEABLE_OUTPUT)


def test_quorum_single_vote_and_ties_label_nothing():
    assert majority(["3", "", "", ""], 2, 0.5) == (None, 0.25, WEAK_VOTE)       # one sample of four
    assert majority(["3", "3", "4", "5", "6"], 2, 0.5) == (None, 0.4, WEAK_VOTE)  # two votes, 40% share
    assert majority(["'b'", "'a'", "'a'", "'b'"], 2, 0.5) == (None, 0.5, TIED_VOTE)
    assert majority(["'b'", "'a'"]) == (None, 0.5, TIED_VOTE)                   # ties never pick the first seen
    assert majority(["4", "4", "4", "4"], 2, 0.5) == ("4", 1.0, "")
    assert majority(["3", "", "", ""]) == ("3", 0.25, "")                       # no quorum asked: one vote wins


def test_sets_dicts_unordered_and_inf_round_trips():
    assert majority(["{1: 'a', 2: 'b'}", "{2: 'b', 1: 'a'}"])[1] == 1.0
    literal, _, _ = majority(["[1e999, -1e999, 'inf']"])
    assert ast.literal_eval(literal)[:2] == [math.inf, -math.inf] and "'inf'" in literal


literals = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False, width=16) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(literals, min_size=1, max_size=8), st.integers(0, 4))
def test_vote_groups_are_the_equivalence_classes(values, junk):
    samples = [canonical_literal(v) for v in values] + ["not a literal("] * junk
    literal, share, reason = majority(samples)
    keys = [literal_key(s) for s in samples[: len(values)]]
    counts = {k: keys.count(k) for k in keys}
    top = max(counts.values())
    if list(counts.values()).count(top) > 1:
        assert (literal, reason) == (None, TIED_VOTE)
        return
    assert reason == "" and math.isclose(share, top / len(samples))
    # every sample of the winning group agrees with the winner, and no other sample does
    for s, k in zip(samples, keys):
        assert agrees(s, literal) == (counts[k] == top)
    assert same_literal(literal, literal)
