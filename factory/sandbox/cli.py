"""`factory sandbox CASES.jsonl sandbox=local|docker [sandbox.timeout=S]`: run cases, print one JSON line each.

A line of CASES.jsonl is {"id", "solution", "entry_point", "tests": [{"inputs", "expected"}]} or
{"id", "solution", "assert_tests"}. Output per case: {"id", "verdicts": [{"status", "detail"}], "pass_rate",
"passed"}. Exit 0 whenever the sandbox worked, whatever the verdicts; 2 for a bad file or line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from factory.sandbox import Case, IOTest, SandboxUnavailable, make_sandbox
from factory.sandbox.verdicts import is_infra


class CasesError(ValueError):
    pass


def read_cases(path: Path) -> list[Case]:
    if not path.is_file():
        raise CasesError(f"{path}: no such file")
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            cases.append(parse_case(line, f"{path}:{number}"))
    return cases


def parse_case(line: str, where: str) -> Case:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CasesError(f"{where}: not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise CasesError(f"{where}: a case is a JSON object")
    for key in ("id", "solution"):
        if not isinstance(obj.get(key), str):
            raise CasesError(f"{where}: field {key!r} must be a string")
    if isinstance(obj.get("assert_tests"), str):
        return Case(obj["id"], obj["solution"], obj.get("entry_point"), assert_tests=obj["assert_tests"])
    tests = obj.get("tests")
    if not isinstance(obj.get("entry_point"), str) or not isinstance(tests, list):
        raise CasesError(f"{where}: needs 'entry_point' and a 'tests' list, or 'assert_tests'")
    parsed = []
    for i, test in enumerate(tests):
        if not (isinstance(test, dict) and isinstance(test.get("inputs"), str) and isinstance(test.get("expected"), str)):
            raise CasesError(f"{where}: tests[{i}] must be {{\"inputs\": str, \"expected\": str}} (Python literals)")
        parsed.append(IOTest(test["inputs"], test["expected"]))
    return Case(obj["id"], obj["solution"], obj["entry_point"], parsed)


def main(cfg, args: list[str]) -> int:
    if len(args) != 1:
        print("usage: factory sandbox CASES.jsonl sandbox=local|docker [sandbox.timeout=SECONDS]", file=sys.stderr)
        return 2
    try:
        cases = read_cases(Path(args[0]))
    except CasesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with make_sandbox(cfg.sandbox) as box:
            results = box.run(cases)
    except SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for case, verdicts in zip(cases, results):
        passed = sum(v.status == "pass" for v in verdicts)
        print(json.dumps({"id": case.id, "verdicts": [{"status": v.status, "detail": v.detail} for v in verdicts],
                          "pass_rate": passed / len(verdicts) if verdicts else 0.0,
                          "passed": bool(verdicts) and passed == len(verdicts)}), flush=True)
    errors = sum(is_infra(v.status) for vs in results for v in vs)   # the sandbox could not judge: exit 1
    return 1 if errors else 0
