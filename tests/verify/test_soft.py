"""Soft verification helpers: the score band and reading the model's verdict."""

from factory.verify.soft import in_band, parse_judgement


def test_band_is_inclusive():
    assert in_band(["a", "b", "c", "d"], [0.5, 0.99, 1.0, 0.2], 0.5, 0.99) == ["a", "b"]


def test_parse_judgement_takes_the_last_verdict():
    assert parse_judgement("Looks fine.\nVerdict: correct") is True
    assert parse_judgement("Verdict: correct?\nOn reflection...\n**Verdict:** incorrect") is False
    assert parse_judgement("VERDICT: Correct") is True
    assert parse_judgement("I think it is correct.") is None
    assert parse_judgement("") is None
