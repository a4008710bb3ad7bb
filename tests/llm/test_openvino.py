"""llm=openvino for real: the tiny model and SmolLM2 exported by optimum-intel, run by OpenVINO GenAI on CPU.

The exporter's environment is built once per machine (~/.cache/factory/ov-export-venv-v1, ~25 s from a wheel
mirror); the tiny export goes into this session's private model cache (~7 s).
"""

import os
from pathlib import Path

import pytest

from factory.llm import Sampling, make_llm
from factory.llm.base import BackendFailed
from factory.llm.export import _fingerprint, export_openvino
from factory.llm.hf import HFLLM
from factory.llm.openvino import OpenVINOLLM

PROMPTS = [[{"role": "user", "content": "Write a function that adds two numbers." * (i + 1)}] for i in range(5)]
SAMPLED = Sampling(n=3, temperature=1.0, top_p=0.95, max_tokens=12, seed=7)


@pytest.fixture(scope="module")
def model_cfg(tiny_path, tmp_path_factory):
    return {"source": "local", "path": tiny_path, "cache_dir": str(tmp_path_factory.mktemp("ov-cache"))}


@pytest.fixture(scope="module")
def llm(model_cfg):
    # f32: the arithmetic of transformers' fp32, so greedy replies can be compared token for token.
    return make_llm({"backend": "openvino", "weight_format": "fp32", "threads": 1, "precision": "f32"}, model_cfg)


def test_n_samples_per_prompt_seeded_per_prompt(llm):
    assert isinstance(llm, OpenVINOLLM)
    replies = llm.generate(PROMPTS, SAMPLED)
    assert [len(r) for r in replies] == [3] * len(PROMPTS)
    assert len({t for r in replies for t in r}) > len(PROMPTS)  # sampled, not one reply copied around
    assert llm.generate(PROMPTS, SAMPLED) == replies           # same seed, same replies
    assert llm.generate(PROMPTS, Sampling(n=3, temperature=1.0, max_tokens=12, seed=8)) != replies
    # Prompt i is seeded seed + i: alone, with that seed, it samples what it sampled inside the batch.
    assert llm.generate([PROMPTS[3]], Sampling(n=3, temperature=1.0, top_p=0.95, max_tokens=12, seed=10)) \
        == [replies[3]]
    # Seeds from row ids (Sampling.seeds) follow the prompt whatever its position in the call.
    keyed = Sampling(n=2, temperature=1.0, max_tokens=12, seeds=(11, 22))
    forward = llm.generate(PROMPTS[:2], keyed)
    backward = llm.generate(PROMPTS[1::-1], Sampling(n=2, temperature=1.0, max_tokens=12, seeds=(22, 11)))
    assert forward == backward[::-1]


def test_greedy_matches_transformers_and_is_new_text_in_prompt_order(llm, tiny_path):
    greedy = Sampling(n=2, temperature=0.0, max_tokens=8)
    together = llm.generate(PROMPTS, greedy)
    assert together == [llm.generate([p], greedy)[0] for p in PROMPTS]
    assert all(r[0] == r[1] for r in together)  # greedy: one generation, copied n times
    # Same chat template, same prompt tokens, same arithmetic: transformers' own greedy replies.
    assert together == HFLLM(tiny_path, batch_size=1, torch_threads=1).generate(PROMPTS, greedy)
    assert llm.generate([], greedy) == []


def test_a_failing_prompt_gets_empty_replies_and_the_others_do_not(llm):
    bad = [{"role": "user"}]  # no content: the chat template cannot render it
    greedy = Sampling(n=2, temperature=0.0, max_tokens=4)
    replies = llm.generate([PROMPTS[0], bad, PROMPTS[1]], greedy)
    assert replies[1] == ["", ""]
    assert replies[0] == llm.generate([PROMPTS[0]], greedy)[0] and replies[0][0]
    with pytest.raises(BackendFailed, match="openvino: all 2 prompts"):
        llm.generate([bad, bad], greedy)


def test_an_engine_error_is_isolated_by_halving_and_the_pipeline_recovers(llm):
    # OpenVINO raises for a zero-length prompt and keeps the call's other requests running: the backend must
    # step them out, halve the batch, and still answer the good prompts the same as alone.
    ids = [llm._tokens(p) for p in PROMPTS[:3]]
    greedy = Sampling(n=1, temperature=0.0, max_tokens=6)
    replies = llm._generate_safely([ids[0], [], ids[1], ids[2]], [0, 1, 2, 3], [None] * 4, greedy)
    assert replies[1] == [""] and llm.failed >= 1
    assert [replies[0], replies[2], replies[3]] == llm.generate(PROMPTS[:3], greedy)


def test_the_export_is_cached_and_keyed_by_model_and_format(llm, model_cfg, tmp_path):
    cache = Path(model_cfg["cache_dir"])
    first = export_openvino(model_cfg["path"], "fp32", cache)
    assert first == export_openvino(model_cfg["path"], "fp32", cache)  # cached: the same folder, no export
    assert (first / "openvino_model.xml").is_file() and "-ov-fp32-" in first.name
    with pytest.raises(ValueError, match="llm.weight_format='int3'"):
        export_openvino(model_cfg["path"], "int3", cache)
    # A model retrained in place must not reuse the stale export.
    copy = tmp_path / "model"
    copy.mkdir()
    for f in os.listdir(model_cfg["path"]):
        (copy / f).write_bytes((Path(model_cfg["path"]) / f).read_bytes())
    before = _fingerprint(copy)
    weights = next(copy.glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert _fingerprint(copy) != before


@pytest.mark.slow
def test_smollm2_greedy_replies_match_transformers():
    # The default model, exported at the default weight format, through the chat template both backends share.
    smollm2 = {"source": "gguf_package", "cache_dir": None}
    prompts = [[{"role": "user", "content": c}] for c in
               ("Write a Python function that reverses a string.", "What is the capital of France?",
                "Write a Python function `is_even(n)` that returns True when n is even.")]
    greedy = Sampling(n=1, temperature=0.0, max_tokens=48)
    ov = make_llm({"backend": "openvino", "weight_format": "fp32", "precision": "f32"}, smollm2)
    hf = make_llm({"backend": "hf", "dtype": "float32", "device": "cpu", "batch_size": 1}, smollm2)
    assert ov.generate(prompts, greedy) == hf.generate(prompts, greedy)
