"""Parsers on real SmolLM2-135M-Instruct replies (OpenVINO int8, sampled by the factory's own prompts on
2026-12-01), each with its parse checked by hand: test inputs (calls, asserts, prints, doctest lines; function
bodies and docstrings are not inputs), predicted outputs (`Output:`, "the output should be:" and a code block,
prose that is no answer) and starter code (a good header above a broken body is kept)."""

import json
from pathlib import Path

import pytest

from factory.stages.parse import answer_text, extract_code, parse_inputs, parse_signature

REPLIES = [json.loads(line) for line in (Path(__file__).parent / "data" / "smollm2_replies.jsonl").open()]


def parse(item: dict):
    if item["kind"] == "inputs":
        got = parse_inputs(item["reply"], len(item["params"]), item["entry_point"], item["params"])
        return got if isinstance(got, str) else [list(g) for g in got]
    if item["kind"] == "output":
        return answer_text(item["reply"], item["entry_point"])
    code = extract_code(item["reply"])
    got = parse_signature(code) if code else "no_code_block"
    return got if isinstance(got, str) else list(got)


@pytest.mark.parametrize("item", REPLIES, ids=[f"{r['kind']}-{i}" for i, r in enumerate(REPLIES)])
def test_real_reply_parses_as_checked_by_hand(item):
    assert parse(item) == item["expected"]


def test_the_fixture_covers_every_reader():
    kinds = {(r["kind"], isinstance(r["expected"], str) and r["expected"] in ("", "no_valid_inputs")) for r in REPLIES}
    assert {("inputs", False), ("inputs", True), ("output", False), ("output", True), ("signature", False)} <= kinds
