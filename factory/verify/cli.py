"""`factory verify INPUT.jsonl|.parquet run_dir=DIR [verify.tau=..] [verify.rejected=..]`: bring your own candidates.

Each input row: {"problem_id", "problem", "signature", "entry_point", "solutions": [source, ...],
"test_inputs": ["<literal list>", ...], "output_samples": [["<literal>", ...], ...]} (optional
"output_reasoning", same shape as output_samples). The rows are voted on, written as TESTS shards into
RUN_DIR/tests/, then the pipeline's own executions -> verification -> sft -> dpo stages run over them.
`verify.tau` below 1 or a `verify.rejected` strategy other than random implies `verify.rule=relaxed`.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

from factory.executors.shards import (mark_stage_done, meta_dir, read_stats, shard_name, stage_done, write_json,
                                      write_shard)
from factory.jsonl import read_jsonl
from factory.schema import TESTS
from factory.stages.base import Stage
from factory.prompts.fields import param_names
from factory.verify.vote import majority

FIELDS = {"problem_id": str, "problem": str, "signature": str, "entry_point": str, "solutions": list,
          "test_inputs": list, "output_samples": list}


class InputError(ValueError):
    """A row of the user's file is unusable; the message names the file, the line and the field."""


class _Input(Stage):
    # Only a name and schema for write_shard: the user's rows take the place of the tests stage's output.
    name = "tests"
    schema = TESTS


def read_rows(path: Path) -> list[tuple[int, dict]]:
    """(line number or row index, row) from JSONL or Parquet."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix == ".parquet":
        return list(enumerate(pq.read_table(path).to_pylist(), start=1))
    return read_jsonl(path, InputError)


def to_tests_row(row: dict, where: str) -> dict:
    """Validate one input row and turn it into a TESTS-schema row with the vote applied."""
    for field, kind in FIELDS.items():
        if field not in row or row[field] is None:
            raise InputError(f"{where}: missing field {field!r}")
        if not isinstance(row[field], kind):
            raise InputError(f"{where}: field {field!r} must be a {kind.__name__}, got {type(row[field]).__name__}")
    pid, inputs, samples = row["problem_id"], row["test_inputs"], row["output_samples"]
    if not all(isinstance(s, str) for s in row["solutions"]):
        raise InputError(f"{where}: field 'solutions' must be a list of source strings")
    if len(samples) != len(inputs):
        raise InputError(f"{where}: field 'output_samples' has {len(samples)} lists for {len(inputs)} test_inputs")
    for i, (text, outs) in enumerate(zip(inputs, samples)):
        try:
            ok = isinstance(text, str) and isinstance(ast.literal_eval(text), (list, tuple))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            ok = False
        if not ok:
            raise InputError(f"{where}: test_inputs[{i}]={text!r} is not a literal list of arguments")
        if not isinstance(outs, list) or not all(isinstance(o, str) for o in outs):
            raise InputError(f"{where}: output_samples[{i}] must be a list of strings")
    reasoning = row.get("output_reasoning") or [[""] * len(outs) for outs in samples]
    votes = [majority(outs) for outs in samples]
    return {"seed_id": pid, "origin": "factory verify", "seed": "", "problem_id": pid, "style": "",
            "problem": row["problem"], "signature": row["signature"], "entry_point": row["entry_point"],
            "params": param_names(row["signature"], row["entry_point"]),
            "solutions": [{"solution_id": f"{pid}/s{j}", "code": code, "reply": ""}
                          for j, code in enumerate(row["solutions"])],
            "test_inputs": [repr(list(ast.literal_eval(t))) for t in inputs],
            "input_kinds": list(row.get("input_kinds") or ["general"] * len(inputs)),
            "output_samples": samples, "output_reasoning": reasoning,
            "expected": [v[0] for v in votes], "vote_share": [v[1] for v in votes]}


def write_inputs(path: Path, run_dir: Path, shard_size: int) -> int:
    """Write the user's rows as tests shards; a rerun on the same file resumes, another file is refused."""
    out = run_dir / "tests"
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    stamp = meta_dir(out) / "input.json"   # bookkeeping beside the data folder, which holds only shards
    if stage_done(out):
        if json.loads(stamp.read_text()).get("sha256") != digest:
            raise InputError(f"{out} already holds shards from another input; use a new run_dir")
        return -1
    rows, seen = [], set()
    for n, raw in read_rows(path):
        row = to_tests_row(raw, f"{path}:{n}")
        if row["problem_id"] in seen:
            raise InputError(f"{path}:{n}: duplicate problem_id {row['problem_id']!r}")
        seen.add(row["problem_id"])
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no rows")
    names = []
    for start in range(0, len(rows), shard_size):
        names.append(shard_name(start // shard_size))
        write_shard(_Input(), out, names[-1], rows[start : start + shard_size], [], len(rows[start : start + shard_size]), 0.0)
    write_json(stamp, {"path": str(path), "sha256": digest})
    mark_stage_done(out, names, {"fingerprint": digest[:16], "config": {"input": str(path)}, "input": None})
    return len(rows)


def summary_lines(run_dir: Path) -> list[str]:
    stats = [s["metrics"] for s in read_stats(run_dir / "verification")]
    problems, trusted = sum(m["problems"] for m in stats), sum(m["trusted"] for m in stats)
    pairs: dict[str, int] = {}
    for m in stats:
        for k, v in m["pairs"].items():
            pairs[k] = pairs.get(k, 0) + v
    lines = [f"verification: {trusted}/{problems} problems trusted -> {run_dir / 'verification'}"]
    lines += [f"{name}: {sum(s['rows_out'] for s in read_stats(run_dir / name))} rows -> {run_dir / name}"
              for name in ("sft", "dpo")]
    lines.append("pairs: " + (", ".join(f"{k}={v}" for k, v in sorted(pairs.items())) or "none"))
    return lines


def main(cfg, args: list[str]) -> int:
    if len(args) != 1:
        raise ValueError(f"usage: factory verify INPUT.jsonl|INPUT.parquet run_dir=DIR, got arguments {args}")
    from factory import pipeline
    from factory.config import save_config

    # verify.tau < 1 or a rejected strategy already switched verify.rule to relaxed (factory.config.validate).
    print(f"verify.rule={cfg.verify.rule} verify.tau={cfg.verify.tau} verify.rejected={cfg.verify.rejected}")
    run_dir = Path(cfg.run_dir)
    try:
        n = write_inputs(Path(args[0]), run_dir, int(cfg.shard_size))
    except InputError as err:
        # The user's file is theirs to fix: one clear line, no traceback (as factory.cli does for config errors).
        print(f"factory verify: error: {err}", file=sys.stderr)
        return 2
    print(f"{args[0]}: {n} problems" if n >= 0 else f"{run_dir / 'tests'}: resuming")
    save_config(cfg, run_dir)
    pipeline.run(cfg, start="executions")
    for line in summary_lines(run_dir):
        print(line)
    return 0
