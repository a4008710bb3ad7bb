"""Regex-constrained decoding for transformers `generate` (llm=hf): xgrammar as a logits processor.

Why xgrammar (measured in benchmarks/structured.py, docs/perf/structured.md): it is the engine vLLM and OpenVINO
GenAI use themselves, so one regex behaves alike in every backend; it ships CPU wheels that import beside torch
2.13 and transformers 5.24 (`pip install --no-deps xgrammar apache-tvm-ffi`: its triton dependency is for GPU
kernels only); it compiles a test_inputs regex in 0.04-1.4 s and masks in ~0.01 ms per token. outlines-core took
66 s to index the same regex (every problem has its own), and lm-format-enforcer 0.11.3's transformers
integration does not import with transformers 5 (docs/llm.md "Constrained decoding").

Rows of one `generate` call may mix constrained and free prompts: a row without a regex is never masked. A
matcher whose regex is complete allows only the stop token, so the reply ends exactly where the format does.
"""

from __future__ import annotations

import torch


class Grammars:
    """Compiled regexes for one tokenizer (xgrammar caches compilations by regex)."""

    def __init__(self, tokenizer, vocab_size: int):
        import xgrammar

        self.xgr = xgrammar
        # vocab_size: the model's logits width, which may exceed the tokenizer's (padding rows).
        self.info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self.compiler = xgrammar.GrammarCompiler(self.info)

    def processor(self, regexes: list[str | None]) -> "RegexProcessor":
        """A fresh logits processor for one `generate` call whose row i must match regexes[i] (None: free)."""
        compiled = [self.compiler.compile_regex(r) if r is not None else None for r in regexes]
        return RegexProcessor(self.xgr, compiled, self.info.vocab_size)


class RegexProcessor:
    """transformers calls it once per step with the ids so far and the next-token scores of every row."""

    def __init__(self, xgr, compiled: list, vocab_size: int):
        self.xgr = xgr
        self.matchers = [xgr.GrammarMatcher(c) if c is not None else None for c in compiled]
        self.bitmask = xgr.allocate_token_bitmask(len(compiled), vocab_size)
        self.started = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if len(self.matchers) != input_ids.shape[0]:
            raise RuntimeError(f"{len(self.matchers)} regexes for a batch of {input_ids.shape[0]} rows")
        if self.started:   # the token sampled last step, which the mask allowed, moves each matcher on
            for matcher, token in zip(self.matchers, input_ids[:, -1].tolist()):
                if matcher is not None and not matcher.is_terminated():
                    matcher.accept_token(token)
        self.started = True
        rows = [i for i, m in enumerate(self.matchers) if m is not None and not m.is_terminated()]
        if rows:
            for i in rows:
                self.matchers[i].fill_next_token_bitmask(self.bitmask, i)
            masked = scores.float() if scores.dtype != torch.float32 else scores
            self.xgr.apply_token_bitmask_inplace(masked, self.bitmask, indices=rows)
            scores = masked if masked is scores else masked.to(scores.dtype)
        return scores
