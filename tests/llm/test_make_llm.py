"""make_llm dispatch from the composed config, and what the vLLM backend does that can be checked without a GPU."""

import importlib.util
from types import SimpleNamespace

import pytest

from factory.config import load_config
from factory.llm import make_llm
from factory.llm.base import Sampling
from factory.llm.openai import OpenAIChat
from factory.llm.vllm import replies_from_outputs, sampling_params_kwargs


def test_openai_from_the_composed_config(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-x")
    cfg = load_config(["llm=openai", "model=qwen2.5-coder-7b-instruct", "llm.base_url=http://h:1/v1/",
                       "llm.api_key_env=MY_KEY", "llm.max_concurrency=4"])
    llm = make_llm(cfg.llm, cfg.model)
    assert isinstance(llm, OpenAIChat)
    assert (llm.url, llm.model, llm.max_concurrency) == ("http://h:1/v1/chat/completions",
                                                         "Qwen/Qwen2.5-Coder-7B-Instruct", 4)
    assert llm.headers["Authorization"] == "Bearer sk-x"
    cfg = load_config(["llm=openai", "model=tiny", "llm.api_key_env=null", "llm.model=served"])
    assert make_llm(cfg.llm, cfg.model).model == "served"


def test_openai_local_folder_is_served_under_its_path(tmp_path):
    # `vllm serve /a/folder` answers to the folder path: a trained model of `factory iterate` is one.
    (tmp_path / "config.json").write_text("{}")
    cfg = load_config(["llm=openai", f"model={tmp_path}", "llm.api_key_env=null"])
    assert make_llm(cfg.llm, cfg.model).model == str(tmp_path)


def test_every_llm_preset_has_the_placement_keys():
    for backend in ("hf", "openvino", "vllm", "openai"):
        llm = load_config([f"llm={backend}"]).llm
        assert llm.backend == backend
        for key in ("num_cpus", "num_gpus", "concurrency", "batch_size"):
            assert key in llm, f"conf/llm/{backend}.yaml lacks {key}"
    vllm = load_config(["llm=vllm", "llm.tensor_parallel_size=4"]).llm
    assert vllm.num_gpus == 4  # a replica reserves the GPUs its tensor-parallel engine spans


def test_an_unknown_backend_is_named():
    with pytest.raises(ValueError, match="llm.backend='tgi' is not one of hf, openvino, vllm, openai"):
        make_llm({"backend": "tgi"}, {"source": "tiny"})


def test_vllm_sampling_params():
    kwargs, copies = sampling_params_kwargs(Sampling(n=4, temperature=0.8, top_p=0.95, max_tokens=100, seed=3))
    assert (kwargs, copies) == ({"n": 4, "temperature": 0.8, "top_p": 0.95, "max_tokens": 100, "seed": 3}, 1)
    kwargs, copies = sampling_params_kwargs(Sampling(n=3, temperature=0.0, top_p=0.5, max_tokens=7))
    assert (kwargs, copies) == ({"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 7}, 3)


def test_vllm_outputs_become_n_replies_per_prompt():
    out = lambda *texts: SimpleNamespace(outputs=[SimpleNamespace(text=t) for t in texts])  # noqa: E731
    assert replies_from_outputs([out("a", "b"), out("c")], n=2, copies=1) == [["a", "b"], ["c", ""]]
    assert replies_from_outputs([out("g")], n=3, copies=3) == [["g", "g", "g"]]
    assert replies_from_outputs([SimpleNamespace(outputs=None)], n=2, copies=1) == [["", ""]]


@pytest.mark.gpu
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM and a CUDA GPU (extra [gpu])")
def test_vllm_generates_on_a_gpu(tiny_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    llm = make_llm({"backend": "vllm", "tensor_parallel_size": 1, "gpu_memory_utilization": 0.3,
                    "max_model_len": 2048}, {"source": "local", "path": tiny_path})
    prompts = [[{"role": "user", "content": f"write function {i}"}] for i in range(4)]
    sampled = llm.generate(prompts, Sampling(n=3, temperature=0.8, max_tokens=16, seed=0))
    assert [len(r) for r in sampled] == [3] * 4
    assert llm.generate(prompts, Sampling(n=3, temperature=0.8, max_tokens=16, seed=0)) == sampled
    greedy = llm.generate(prompts, Sampling(n=2, temperature=0.0, max_tokens=16))
    assert all(r[0] == r[1] for r in greedy)
