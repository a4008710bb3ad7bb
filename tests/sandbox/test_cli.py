"""`factory sandbox CASES.jsonl sandbox=local|docker [sandbox.timeout=S]`, the public command, end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from factory.config import load_config
from factory.sandbox.cli import main

CASES = [
    {"id": "io", "solution": "def inc(x):\n    return x + 1\n", "entry_point": "inc",
     "tests": [{"inputs": "[1]", "expected": "2"}, {"inputs": "[2]", "expected": "4"}]},
    {"id": "asserts", "solution": "def add(a, b):\n    return a + b\n",
     "assert_tests": "def check(candidate):\n    assert candidate(1, 2) == 3\n\ncheck(add)\n"},
    {"id": "loops", "solution": "def f():\n    while True:\n        pass\n", "entry_point": "f",
     "tests": [{"inputs": "[]", "expected": "1"}]},
]


def test_cli_command_prints_one_line_per_case(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in CASES) + "\n")
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "sandbox", str(path), "sandbox=local",
                           "sandbox.timeout=1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [line["id"] for line in lines] == ["io", "asserts", "loops"]
    assert [v["status"] for v in lines[0]["verdicts"]] == ["pass", "wrong_answer"]
    assert lines[0]["pass_rate"] == 0.5 and lines[0]["passed"] is False
    assert lines[1]["verdicts"] == [{"status": "pass", "detail": ""}] and lines[1]["passed"] is True
    assert lines[2]["verdicts"][0]["status"] == "timeout"
    assert set(lines[0]) == {"id", "verdicts", "pass_rate", "passed"}


@pytest.mark.parametrize("line,message", [
    ("not json", "cases.jsonl:2: not JSON"),
    ('{"id": "x", "solution": "pass"}', "cases.jsonl:2: needs 'entry_point'"),
    ('{"id": "x", "solution": "pass", "entry_point": "f", "tests": [{"inputs": 1}]}', "cases.jsonl:2: tests[0]"),
])
def test_cli_bad_line_names_file_and_line(tmp_path, capsys, line, message):
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(CASES[0]) + "\n" + line + "\n")
    assert main(load_config(["sandbox=local"]), [str(path)]) == 2
    assert message in capsys.readouterr().err
