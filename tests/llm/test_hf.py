"""The hf backend on the tiny model: n replies per prompt, in order, seeded, greedy copies, bad prompts isolated."""

import os
from types import SimpleNamespace

import pytest
import torch

from factory.llm import Sampling, make_llm
from factory.llm.hf import HFLLM, cpu_threads, pick_dtype, worker_cpus

PROMPTS = [[{"role": "user", "content": "Write a function that adds two numbers." * (i + 1)}] for i in range(5)]


@pytest.fixture(scope="module")
def llm(tiny_path):
    return HFLLM(tiny_path, batch_size=2, torch_threads=1)


def test_n_replies_per_prompt_seeded(llm):
    sampling = Sampling(n=3, temperature=1.0, top_p=0.95, max_tokens=12, seed=7)
    replies = llm.generate(PROMPTS, sampling)
    assert [len(r) for r in replies] == [3] * len(PROMPTS)
    assert all(isinstance(t, str) for r in replies for t in r)
    assert len({t for r in replies for t in r}) > len(PROMPTS)  # sampling, not one reply copied around
    assert llm.generate(PROMPTS, sampling) == replies           # same seed, same replies
    assert llm.generate(PROMPTS, Sampling(n=3, temperature=1.0, max_tokens=12, seed=8)) != replies


def test_replies_are_new_text_only_and_in_prompt_order(llm):
    # Greedy: a prompt's reply must not depend on which other prompts share (and pad) its batch.
    greedy = Sampling(n=2, temperature=0.0, max_tokens=8)
    together = llm.generate(PROMPTS, greedy)
    alone = [llm.generate([p], greedy)[0] for p in PROMPTS]
    assert together == alone
    assert all(r[0] == r[1] for r in together)  # greedy: one generation, copied n times
    assert not any("<|im_start|>" in t or "adds two numbers" in t for r in together for t in r)
    tokens = llm.tokenizer(together[0][0], add_special_tokens=False)["input_ids"]
    assert len(tokens) <= 8 + 2  # max_tokens honoured (re-tokenising may merge or split a little)


def test_a_malformed_prompt_gets_empty_replies_and_the_others_do_not(llm):
    bad = [{"role": "user"}]  # no content: the chat template cannot render it
    replies = llm.generate([PROMPTS[0], bad, PROMPTS[1]], Sampling(n=2, temperature=0.0, max_tokens=4))
    assert replies[1] == ["", ""]
    assert replies[0] == llm.generate([PROMPTS[0]], Sampling(n=2, temperature=0.0, max_tokens=4))[0]


def test_make_llm_builds_hf_with_threads_from_the_worker(tiny_path):
    before = torch.get_num_threads()
    try:
        llm = make_llm({"backend": "hf", "batch_size": 4, "torch_threads": None, "dtype": None, "device": "cpu"},
                       {"source": "local", "path": tiny_path})
        assert isinstance(llm, HFLLM) and llm.batch_size == 4
        assert llm.model.dtype == torch.float32
        assert torch.get_num_threads() == 1  # hidden 64: one thread, however many CPUs the worker has
        cpus = len(os.sched_getaffinity(0))
        assert worker_cpus() == cpus
        assert cpu_threads(SimpleNamespace(hidden_size=576)) == min(cpus, 2)   # SmolLM2
        assert cpu_threads(SimpleNamespace(hidden_size=4096)) == min(cpus, 16)  # an 8B model: all it was given
        HFLLM(tiny_path, torch_threads=2)
        assert torch.get_num_threads() == 2  # an explicit setting wins
    finally:
        torch.set_num_threads(before)


def test_dtype_choice_is_validated():
    assert pick_dtype(None, "cpu") == torch.float32
    assert pick_dtype(None, "cuda") == torch.bfloat16
    assert pick_dtype("float32", "cpu", 576) == torch.float32  # an explicit setting wins
    wide = pick_dtype(None, "cpu", 576)                         # SmolLM2: bf16 where the CPU has it in hardware
    has_bf16 = any(f in open("/proc/cpuinfo").read().split() for f in ("amx_bf16", "avx512_bf16"))
    assert wide == (torch.bfloat16 if has_bf16 else torch.float32)
    assert pick_dtype(None, "cpu", 64) == torch.float32         # the tiny model: bf16 would be slower
    with pytest.raises(ValueError, match="llm.dtype='fp8'"):
        pick_dtype("fp8", "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_hf_on_gpu(tiny_path):
    llm = HFLLM(tiny_path, device="cuda", batch_size=4)
    replies = llm.generate(PROMPTS, Sampling(n=2, temperature=0.7, max_tokens=8, seed=0))
    assert [len(r) for r in replies] == [2] * len(PROMPTS)
    assert llm.model.device.type == "cuda" and llm.model.dtype == torch.bfloat16


def test_a_prompt_that_breaks_generate_costs_only_its_own_replies(tiny_path, monkeypatch):
    # Fault injection: generate raises on any batch holding the poisoned prompt (as an over-long prompt would
    # on a model with a hard context limit). The batch is halved until the poisoned prompt is alone.
    llm = HFLLM(tiny_path, batch_size=8, torch_threads=1)
    poison = llm.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    real = llm.model.generate

    def generate(**kwargs):
        if (kwargs["input_ids"] == poison).logical_and(kwargs["attention_mask"] == 1).any():
            raise ValueError("poisoned")
        return real(**kwargs)

    monkeypatch.setattr(llm.model, "generate", generate)
    prompts = PROMPTS[:2] + [[{"role": "user", "content": "x<|endoftext|>"}]] + PROMPTS[2:]
    greedy = Sampling(n=1, temperature=0.0, max_tokens=4)
    replies = llm.generate(prompts, greedy)
    assert replies[2] == [""]
    assert replies[:2] + replies[3:] == llm.generate(PROMPTS, greedy)
    assert all(r != [""] for r in replies[:2] + replies[3:])
