"""Generated-token counts: each backend counts what it generated; an LLM stage reports its shard's share."""

from omegaconf import OmegaConf

from factory.llm.base import Sampling
from factory.stages.solutions import Solutions


def test_hf_counts_generated_tokens_and_the_stage_reports_per_shard(tiny_path):
    from factory.llm.hf import HFLLM

    llm = HFLLM(tiny_path, device="cpu", batch_size=4)
    prompts = [[{"role": "user", "content": f"Write code {i}"}] for i in range(3)]
    llm.generate(prompts, Sampling(n=2, temperature=1.0, max_tokens=8, seed=1))
    first = llm.tokens_out
    assert 0 < first <= 3 * 2 * 8
    stage = Solutions(llm=OmegaConf.create({"backend": "hf"}), model=None,
                      sampling=OmegaConf.create({"temperature": 1.0, "top_p": 1.0, "max_tokens": 8}))
    stage.engine, stage._tokens_reported = llm, 0
    assert stage.shard_metrics([]) == {"tokens": first}
    llm.generate(prompts[:1], Sampling(n=1, temperature=1.0, max_tokens=8, seed=2))
    assert stage.shard_metrics([]) == {"tokens": llm.tokens_out - first} and llm.tokens_out > first
    assert stage.shard_metrics([]) == {"tokens": 0}   # nothing generated since the last shard


def test_openai_counts_the_usage_the_endpoint_reports(scripted_server):
    from factory.llm.openai import OpenAIChat

    llm = OpenAIChat(scripted_server.url, "m", api_key_env=None)
    replies = llm.generate([[{"role": "user", "content": "hello"}]] * 2, Sampling(n=2, temperature=0.5, seed=3))
    assert llm.tokens_out == sum(len(r.split()) for rs in replies for r in rs) > 0
