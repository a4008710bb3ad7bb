"""transformers `generate` as an `LLM`: batched, left-padded, chat template applied, CPU or GPU.

One instance lives in one worker (a Ray Data actor, or the process of the local executor). Assumptions:
the model folder has a tokenizer with a chat template; `n` samples come from `num_return_sequences`, except
for greedy decoding (temperature 0), where the n replies would be identical, so one is generated and copied.
"""

from __future__ import annotations

import logging

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from factory.executors.resources import worker_cpus
from factory.llm.base import Messages, Sampling, raise_if_all_failed

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cpu_threads(config) -> int:
    """Torch threads for a CPU worker: never more than it was given, and fewer for small models.

    Measured on 2 cores: two threads on the tiny model (hidden 64) ran 11-28x slower than one (the `tiny`
    pipeline's problems stage: 75.7 s vs 6.6 s), while SmolLM2 (hidden 576) batched gained ~25% from a second
    thread. Splitting a matmul only pays when it is wide enough, hence one thread per 256 of hidden size.
    """
    width = getattr(config, "hidden_size", None) or 256
    return max(1, min(worker_cpus(), width // 256))


def pick_device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX tiles or AVX512-BF16), where oneDNN runs bf16 matmuls
    natively; elsewhere bf16 is emulated and slower than fp32."""
    return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()


def pick_dtype(dtype: str | None, device: str, width: int | None = None) -> torch.dtype:
    """null: bfloat16 on CUDA; on CPU bfloat16 where the CPU has it in hardware and the model is wide enough to
    gain, else float32. Measured (docs/perf/llm_cpu.md, AVX512-BF16 without AMX): SmolLM2 (hidden 576) 4.0x
    the tokens/s of fp32 on a loaded machine (1.6x idle, with AMX); the tiny model (hidden 64) 9% slower."""
    if dtype is None:
        if device.startswith("cuda"):
            return torch.bfloat16
        return torch.bfloat16 if cpu_bf16() and (width or 0) >= 256 else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"llm.dtype={dtype!r} is not one of {', '.join(DTYPES)} (or null)")
    return DTYPES[dtype]


class HFLLM:
    def __init__(self, model_path: str, *, device: str | None = None, dtype: str | None = None,
                 torch_threads: int | None = None, batch_size: int = 8):
        self.tokens_out = 0   # generated tokens, all calls: the stages report them per shard
        self.device = pick_device(device)
        self.batch_size = max(1, int(batch_size))
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.tokenizer.padding_side = "left"  # decoder-only: new tokens must follow each prompt directly
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if not self.tokenizer.chat_template:
            raise ValueError(f"{model_path}: the tokenizer has no chat template")
        width = getattr(AutoConfig.from_pretrained(model_path), "hidden_size", None)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=pick_dtype(dtype, self.device, width))
        self.model.to(self.device).eval()
        if self.device == "cpu":
            torch.set_num_threads(torch_threads or cpu_threads(self.model.config))

    def generate(self, prompts: list[Messages], sampling: Sampling) -> list[list[str]]:
        texts = [self._render(p) for p in prompts]
        # Sort by length so each batch pads little; results go back to prompt order below.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i] or ""))
        results: list[list[str]] = [[] for _ in prompts]
        self._failed, self._error = sum(t is None for t in texts), None   # for raise_if_all_failed below
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            # A batched generate draws from one RNG: seed it with the batch's first prompt's own seed.
            seed = (sampling.seed_of(chunk[0]) if sampling.seeds
                    else None if sampling.seed is None else sampling.seed + start)
            regexes = [sampling.regex_of(i) for i in chunk]
            for i, replies in zip(chunk, self._generate_safely([texts[i] for i in chunk], regexes, sampling, seed)):
                results[i] = replies
        raise_if_all_failed("hf", self._failed, len(prompts), self._error)
        return results

    def _grammar(self):
        if getattr(self, "_grammars", None) is None:   # xgrammar is imported only when a reply is constrained
            from factory.llm.grammar import Grammars

            self._grammars = Grammars(self.tokenizer, self.model.config.vocab_size)
        return self._grammars

    def _render(self, messages: Messages) -> str | None:
        try:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as err:  # a malformed prompt fails alone, with empty replies
            log.warning("chat template failed for one prompt: %s", err)
            return None

    def _generate_safely(self, texts: list[str | None], regexes: list[str | None], sampling: Sampling,
                         seed: int | None) -> list[list[str]]:
        empty = [""] * sampling.n
        good = [t for t in texts if t is not None]
        good_regexes = [r for t, r in zip(texts, regexes) if t is not None]
        try:
            replies = iter(self._generate_batch(good, good_regexes, sampling, seed) if good else [])
            return [next(replies) if t is not None else empty for t in texts]
        except Exception as err:  # out of memory, a prompt longer than the model's context, ...
            if len(good) <= 1:
                self._failed, self._error = self._failed + len(good), err
                log.warning("generation failed for one prompt (%d chars): %r", len(good[0]) if good else 0, err)
                return [empty for _ in texts]
            # Halve the batch rather than lose it: one bad prompt must not cost its neighbours their replies.
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            half = len(texts) // 2
            return (self._generate_safely(texts[:half], regexes[:half], sampling, seed)
                    + self._generate_safely(texts[half:], regexes[half:], sampling,
                                            None if seed is None else seed + half))

    @torch.inference_mode()
    def _generate_batch(self, texts: list[str], regexes: list[str | None], sampling: Sampling,
                        seed: int | None) -> list[list[str]]:
        if seed is not None:
            torch.manual_seed(seed)
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        greedy = sampling.temperature <= 0
        copies = 1 if greedy else sampling.n
        kwargs = dict(do_sample=False) if greedy else dict(
            do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        if any(r is not None for r in regexes):   # generate's rows: each prompt's `copies` sequences in a run
            kwargs["logits_processor"] = [self._grammar().processor([r for r in regexes for _ in range(copies)])]
        out = self.model.generate(
            **batch, max_new_tokens=sampling.max_tokens, num_return_sequences=copies,
            pad_token_id=self.tokenizer.pad_token_id, **kwargs)
        generated = out[:, batch["input_ids"].shape[1]:]
        self.tokens_out += int((generated != self.tokenizer.pad_token_id).sum())   # padding after an early stop
        new = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        return [new[i * copies:(i + 1) * copies] * (sampling.n // copies) for i in range(len(texts))]
