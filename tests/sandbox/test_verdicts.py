"""Literals and the host-side comparison (no sandbox needed)."""

import math

import pytest

from factory.sandbox import Verdict, outputs_equal
from factory.sandbox.harness import Unserializable, parse_literal, to_literal


@pytest.mark.parametrize("value", [None, True, 3, -2.5, float("inf"), -float("inf"), "a'b\n", b"\x00",
                                   [1, (2,), {3}], {"k": [1.5, None]}, (), set(), frozenset({1})])
def test_literals_round_trip(value):
    assert parse_literal(to_literal(value)) == value


def test_nan_round_trips_and_compares_equal():
    assert math.isnan(parse_literal(to_literal(float("nan"))))
    assert outputs_equal("float('nan')", "float('nan')")


def test_subclasses_and_objects_are_not_plain_data():
    class AlwaysEqual(int):
        def __eq__(self, other):
            return True

    for value in (AlwaysEqual(1), object(), [1, object()], {1: lambda: 0}):
        with pytest.raises(Unserializable):
            to_literal(value)


@pytest.mark.parametrize("actual,expected,equal", [
    ("1", "1.0", True), ("0.1 + 0.2", "0.3", False), ("0.30000000000000004", "0.3", True),
    ("[1, 2]", "(1, 2)", False), ("{'a': 1.0000001}", "{'a': 1}", True), ("True", "1", False),   # bool is not int
    ("'x'", "x", False), ("[1, [2, 3]]", "[1, [2, 3]]", True), ("{1, 2}", "{2, 1}", True),
])
def test_outputs_equal(actual, expected, equal):
    assert outputs_equal(actual, expected) is equal


def test_parse_literal_refuses_code():
    for text in ("__import__('os').system('x')", "f(1)", "[x for x in y]", "{**a}"):
        with pytest.raises(ValueError):
            parse_literal(text)


def test_verdict_status_is_checked():
    with pytest.raises(ValueError, match="status"):
        Verdict("passed")
