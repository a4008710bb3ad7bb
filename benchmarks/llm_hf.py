"""Throughput of the hf backend on CPU: batching and torch threads, against one prompt at a time on one thread.

    python benchmarks/llm_hf.py [--models tiny smollm2] [--prompts 8] [--max-tokens 32] [--repeats 3]

Greedy decoding of chat prompts through `HFLLM.generate`, the code path the stages use. Generated tokens are
counted exactly by wrapping the model's `generate` (new tokens that are not padding). Prints a Markdown table with the
median over repeats and the speed-up over the baseline (batch 1, 1 thread) measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from factory.llm.base import Sampling
from factory.llm.hf import HFLLM
from factory.llm.models import resolve_model

PRESETS = {"tiny": {"source": "tiny"}, "smollm2": {"source": "gguf_package"}}
CONFIGS = [(1, 1), (1, 8), (2, 1), (2, 8)]  # (torch threads, prompts per batch); the first is the baseline


def prompts(count: int) -> list[list[dict]]:
    tasks = ["reverse a string", "sum the even numbers of a list", "count vowels", "merge two sorted lists",
             "check a palindrome", "flatten a nested list", "compute a factorial", "find the largest gap"]
    return [[{"role": "user", "content": f"Write a Python function to {tasks[i % len(tasks)]}."}]
            for i in range(count)]


def count_new_tokens(llm: HFLLM) -> list[int]:
    """Wrap the model's generate so each call adds its new, non-padding tokens to the returned counter."""
    counter, real = [0], llm.model.generate

    def generate(**kwargs):
        out = real(**kwargs)
        counter[0] += int((out[:, kwargs["input_ids"].shape[1]:] != llm.tokenizer.pad_token_id).sum())
        return out

    llm.model.generate = generate
    return counter


def measure(llm: HFLLM, counter: list[int], threads: int, batch: int, batch_prompts, sampling, repeats: int):
    torch.set_num_threads(threads)
    llm.batch_size = batch
    rates = []
    for _ in range(repeats):
        counter[0] = 0
        start = time.perf_counter()
        llm.generate(batch_prompts, sampling)
        rates.append(counter[0] / (time.perf_counter() - start))
    return statistics.median(rates), counter[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["tiny", "smollm2"], choices=sorted(PRESETS))
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sampling = Sampling(n=1, temperature=0.0, max_tokens=args.max_tokens)
    batch_prompts = prompts(args.prompts)
    print(f"CPUs available: {len(os.sched_getaffinity(0))}; {args.prompts} prompts, greedy, "
          f"max_tokens={args.max_tokens}, median of {args.repeats}\n")
    print("| model | threads | batch | tokens/s (median) | x baseline | tokens out |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        llm = HFLLM(resolve_model(PRESETS[name]), device="cpu", torch_threads=1)
        counter = count_new_tokens(llm)
        llm.generate(batch_prompts[:1], sampling)  # warm-up: first-call allocations are not throughput
        baseline = None
        for threads, batch in CONFIGS:
            rate, tokens = measure(llm, counter, threads, batch, batch_prompts, sampling, args.repeats)
            baseline = baseline or rate
            print(f"| {name} | {threads} | {batch} | {rate:.1f} | {rate / baseline:.2f} | {tokens} |", flush=True)


if __name__ == "__main__":
    main()
