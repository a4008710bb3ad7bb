"""OpenVINO GenAI's continuous-batching pipeline as an `LLM` (CPU): the fast embedded engine.

One instance lives in one worker. The model is the IR folder `factory.llm.export` made from the HF folder.
Assumptions and choices:
- Tokenising and detokenising use the HF folder's own tokenizer and chat template (transformers), exactly as
  `llm=hf` does, and only token ids cross into OpenVINO: both backends see the same prompt tokens, so greedy
  replies agree where the arithmetic does (tests/llm/test_openvino.py).
- A whole `generate` call is one continuous batch: every prompt is a request, `n` samples come from
  `num_return_sequences`; greedy (temperature 0) generates once and copies, as `llm=hf` does.
- Seeds are per prompt: `sampling.seeds[i]` (the stages derive them from row ids), else `sampling.seed + i`;
  each request has its own sampler, so a prompt's samples do not depend on which other prompts share the
  batch, and a retried shard samples the same replies. No seed at all: random seeds.
- A prompt that fails gets empty strings: the batch is halved until the failing prompt is alone (after a
  failed call the pipeline keeps the survivors' requests; they are stepped to the end before the next call).
  A call where every prompt failed raises `BackendFailed` (base.py): the shard is retried, not stored as drops.
- A prompt with a reply format (`Sampling.regexes`) is constrained by OpenVINO's `StructuredOutputConfig(regex)`
  (xgrammar inside OpenVINO; its vocabulary is the IR's tokenizer, which decodes every non-special token as the
  HF tokenizer does). Its n samples go as n one-sequence requests (see `_generate_batch` for why), seeded
  `seed * 1000 + j`, so they differ from the same prompt's free samples.
"""

from __future__ import annotations

import logging
import random

from factory.llm.base import Messages, Sampling, raise_if_all_failed

log = logging.getLogger(__name__)


class OpenVINOLLM:
    def __init__(self, hf_folder: str, ir_folder: str, *, threads: int, precision: str | None = None):
        import openvino_genai
        from transformers import AutoTokenizer

        self._genai = openvino_genai
        self.tokenizer = AutoTokenizer.from_pretrained(hf_folder)
        if not self.tokenizer.chat_template:
            raise ValueError(f"{hf_folder}: the tokenizer has no chat template")
        self.stop_ids = _stop_ids(hf_folder, self.tokenizer.eos_token_id)
        eos = self.tokenizer.eos_token_id
        self.eos = int(eos) if eos is not None else min(self.stop_ids)
        properties = {"INFERENCE_NUM_THREADS": int(threads)}
        if precision:  # null: OpenVINO's choice for this CPU (bf16 where the CPU has it)
            properties["INFERENCE_PRECISION_HINT"] = precision
        self.tokens_out = 0   # generated tokens, all calls: the stages report them per shard
        self.pipe = openvino_genai.ContinuousBatchingPipeline(
            str(ir_folder), openvino_genai.SchedulerConfig(), "CPU", properties)

    def generate(self, prompts: list[Messages], sampling: Sampling) -> list[list[str]]:
        self.last_error: object = None
        ids = [self._tokens(p) for p in prompts]
        seeds = self._seeds(sampling, len(prompts))
        self.failed = sum(not t for t in ids)
        results: list[list[str]] = [[""] * sampling.n for _ in prompts]
        todo = [i for i, t in enumerate(ids) if t]
        for i, replies in zip(todo, self._generate_safely([ids[i] for i in todo], [seeds[i] for i in todo],
                                                          [sampling.regex_of(i) for i in todo], sampling)):
            results[i] = replies
        raise_if_all_failed("openvino", self.failed, len(prompts), self.last_error)
        return results

    @staticmethod
    def _seeds(sampling: Sampling, count: int) -> list[int]:
        if sampling.seeds is not None:
            return [int(s) for s in sampling.seeds]
        base = sampling.seed if sampling.seed is not None else random.randrange(2**31)
        return [base + i for i in range(count)]

    def _tokens(self, messages: Messages) -> list[int] | None:
        try:
            return list(self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=True, return_dict=False))
        except Exception as err:  # a malformed prompt fails alone, with empty replies
            log.warning("chat template failed for one prompt: %s", err)
            self.last_error = err
            return None

    def _generate_safely(self, ids: list[list[int]], seeds: list[int], regexes: list[str | None],
                         sampling: Sampling) -> list[list[str]]:
        if not ids:
            return []
        try:
            return self._generate_batch(ids, seeds, regexes, sampling)
        except Exception as err:
            self._drain()
            if len(ids) == 1:
                log.warning("generation failed for one prompt (%d tokens): %r", len(ids[0]), err)
                self.failed, self.last_error = self.failed + 1, err
                return [[""] * sampling.n]
            half = len(ids) // 2  # one bad prompt must not cost its neighbours their replies
            return (self._generate_safely(ids[:half], seeds[:half], regexes[:half], sampling)
                    + self._generate_safely(ids[half:], seeds[half:], regexes[half:], sampling))

    def _generate_batch(self, ids: list[list[int]], seeds: list[int], regexes: list[str | None],
                        sampling: Sampling) -> list[list[str]]:
        import numpy as np
        import openvino

        greedy = sampling.temperature <= 0
        copies = 1 if greedy else sampling.n
        # A constrained prompt asks for its samples as `copies` requests of one sequence each: OpenVINO GenAI
        # 2026.4 gives all sequences of one request a single grammar matcher, so with num_return_sequences > 1
        # every sequence's tokens advance it and the replies come out garbled (docs/perf/structured.md).
        requests = [(i, self._config(sampling, 1, seed * 1000 + j, regex))
                    for i, (seed, regex) in enumerate(zip(seeds, regexes)) if regex is not None and copies > 1
                    for j in range(copies)]
        requests += [(i, self._config(sampling, copies, seed, regex))
                     for i, (seed, regex) in enumerate(zip(seeds, regexes)) if regex is None or copies == 1]
        out = self.pipe.generate([openvino.Tensor(np.array([ids[i]], dtype=np.int64)) for i, _ in requests],
                                 [config for _, config in requests])
        texts: list[list[str]] = [[] for _ in ids]
        for (i, _), result in zip(requests, out):
            self.tokens_out += sum(len(g) for g in result.m_generation_ids)
            texts[i] += [self.tokenizer.decode(list(g), skip_special_tokens=True) for g in result.m_generation_ids]
        for replies in texts:
            if len(replies) != copies:
                raise RuntimeError(f"OpenVINO returned {len(replies)} sequences for a prompt, expected {copies}")
        return [replies * (sampling.n // copies) for replies in texts]

    def _config(self, sampling: Sampling, copies: int, seed: int, regex: str | None = None):
        config = self._genai.GenerationConfig()
        if regex is not None:   # OpenVINO's own xgrammar compiles the regex against the IR's tokenizer
            config.structured_output_config = self._genai.StructuredOutputConfig(regex=regex)
        config.max_new_tokens = sampling.max_tokens
        config.eos_token_id = self.eos
        config.stop_token_ids = self.stop_ids
        config.num_return_sequences = copies
        if sampling.temperature > 0:  # top_k stays off (OpenVINO's default), as in llm=hf
            config.do_sample = True
            config.temperature = sampling.temperature
            config.top_p = sampling.top_p
            config.rng_seed = seed
        return config

    def _drain(self) -> None:
        # After an exception the pipeline still holds the other requests of that call, and refuses a new
        # generate() until they finish.
        while self.pipe.has_non_finished_requests():
            self.pipe.step()


def _stop_ids(hf_folder: str, tokenizer_eos: int | None) -> set[int]:
    """The tokens that end a reply: the model's generation_config eos ids (what `generate` stops on in
    llm=hf) and the tokenizer's eos."""
    from transformers import GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(hf_folder).eos_token_id
    except OSError:  # no generation_config.json
        eos = None
    ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    if tokenizer_eos is not None:
        ids.add(int(tokenizer_eos))
    if not ids:
        raise ValueError(f"{hf_folder}: neither the generation config nor the tokenizer names an eos token")
    return ids
