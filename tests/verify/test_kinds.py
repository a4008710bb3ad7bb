"""verify.types=check: labels whose kind the return annotation rules out (factory/verify/kinds.py)."""

from __future__ import annotations

from factory.literals import parse_literal
from factory.verify.kinds import kind, mismatched_label, returned_kinds
from tests.stages.test_verification import HCE, run_verification
from tests.verify import humaneval as he


def test_annotations_read_as_kinds():
    sig = "from typing import List, Optional\n\ndef f(x: int) -> {}:\n    ..."
    cases = {"int": {"number"}, "float": {"number"}, "List[int]": {"list"}, "typing.List[str]": {"list"},
             "Optional[str]": {"str", "none"}, "Union[int, str]": {"number", "str"}, "int | None": {"number", "none"},
             "Tuple[int, int]": {"tuple"}, "bool": {"bool"}, "None": {"none"}, "Any": None, "'Node'": None,
             "Union[int, Any]": None, "MyClass": None}
    assert {a: returned_kinds(sig.format(a), "f") for a in cases} == cases
    assert returned_kinds("def f(x):\n    ...", "f") is None and returned_kinds("def g(x) -> int: ...", "f") is None
    assert [kind(parse_literal(t)) for t in ("True", "3", "3.5", "'a'", "None", "(1,)", "{1}", "{}")] == \
        ["bool", "number", "number", "str", "none", "tuple", "set", "dict"]


def test_no_humaneval_gold_output_contradicts_its_annotation():
    """The check must never refuse a right label: every `candidate(...) == literal` of HumanEval's own tests
    against its prompt's annotation (the 164 problems; those without a readable annotation pass trivially)."""
    checked = 0
    for task_id, p in he.problems().items():
        outs = [expected for _, expected in he.io_tests(task_id)]
        row = {"signature": p["prompt"], "entry_point": p["entry_point"]}
        assert mismatched_label(row, outs) is None, task_id
        checked += bool(outs) and returned_kinds(p["prompt"], p["entry_point"]) is not None
    assert checked >= 29   # 30 prompts carry a return annotation; the check reads all 30 (29 with such tests)


def test_agreeing_programs_of_the_wrong_kind_are_not_trusted(tmp_path):
    """has_close_elements (-> bool), two distinct programs that return the answer as a string: they agree on
    every input, so execution labels them 'True'/'False' strings; the annotation refuses the suite."""
    row = he.tests_row(*HCE, pid="as_text")
    body = he.problems()["HumanEval/0"]["canonical_solution"].replace("return True", "return 'True'") \
        .replace("return False", "return 'False'")
    row["solutions"] = [{"solution_id": f"as_text/s{j}", "code": he.problems()["HumanEval/0"]["prompt"] + body + extra,
                         "reply": ""} for j, extra in enumerate(("", "\nX = 1\n"))]
    on = run_verification(tmp_path / "on", [row], "verify.outputs=executed", "verify.coverage=false")["as_text"]
    assert on["labels"][0] in ("'True'", "'False'") and not on["trusted"]
    assert on["reason"] == "label_type_mismatch" and on["chosen_solution_ids"] == []
    off = run_verification(tmp_path / "off", [row], "verify.outputs=executed", "verify.coverage=false",
                           "verify.types=off")["as_text"]
    assert off["trusted"]
