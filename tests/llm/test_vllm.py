"""The vllm backend's error policy and seeding, against a stand-in engine (no GPU here) that raises vLLM's own
exception classes when vLLM is installed, else classes of the same names; plus the path a real stage takes
(`LLMStage` -> batches of `llm.batch_size` -> the engine -> `run_shard`), so a dead engine is proven to leave no
completed shard behind."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from factory.executors.shards import is_done, run_shard
from factory.llm.base import BackendFailed, Sampling
from factory.llm.vllm import VLLM, is_prompt_error
from factory.stages.solutions import Solutions

try:  # vLLM's own classes where it is installed (GPU images)
    from vllm.exceptions import VLLMValidationError
    from vllm.v1.engine.exceptions import EngineDeadError
except ImportError:
    class VLLMClientError(Exception):
        pass

    class VLLMValidationError(VLLMClientError):
        pass

    class VLLMServerError(Exception):
        pass

    class EngineDeadError(VLLMServerError):
        pass


class FakeEngine:
    """`vllm.LLM.chat` as far as the backend uses it: a prompt containing TOO_LONG is refused with vLLM's
    validation error for the whole call (as vLLM does), `die` makes every call raise `die`."""

    def __init__(self, die: BaseException | None = None):
        self.die, self.calls = die, []

    def chat(self, prompts, params, use_tqdm=False):
        assert isinstance(params, list) and len(params) == len(prompts)  # one SamplingParams per prompt
        self.calls.append([(p[-1]["content"], sp.get("seed")) for p, sp in zip(prompts, params)])
        if self.die is not None:
            raise self.die
        for p in prompts:
            if "TOO_LONG" in p[-1]["content"]:
                raise VLLMValidationError("The decoder prompt (length 9000) is longer than the maximum model length")
        return [SimpleNamespace(outputs=[SimpleNamespace(text=f"{p[-1]['content']}@{sp.get('seed')}.{i}")
                                         for i in range(sp["n"])]) for p, sp in zip(prompts, params)]


def chat(text):
    return [{"role": "user", "content": text}]


def backend(engine):
    return VLLM("unused", engine=engine, sampling_params=dict)


SAMPLED = Sampling(n=2, temperature=0.8, max_tokens=16, seed=1, seeds=(11, 12, 13))


def test_engine_errors_raise_and_prompt_errors_fall_back_per_prompt():
    for fatal in (EngineDeadError(), torch.OutOfMemoryError("CUDA out of memory"), RuntimeError("NCCL error")):
        assert not is_prompt_error(fatal)
        with pytest.raises(type(fatal)):
            backend(FakeEngine(die=fatal)).generate([chat("a"), chat("b")], SAMPLED)
    assert is_prompt_error(VLLMValidationError("too long")) and is_prompt_error(ValueError("bad top_p"))
    engine = FakeEngine()
    replies = backend(engine).generate([chat("a"), chat("TOO_LONG"), chat("c")], SAMPLED)
    assert replies == [["a@11.0", "a@11.1"], ["", ""], ["c@13.0", "c@13.1"]]
    assert len(engine.calls) == 4   # the batch, then each prompt alone with its own seed
    assert engine.calls[1:] == [[("a", 11)], [("TOO_LONG", 12)], [("c", 13)]]


def test_a_call_where_every_prompt_is_refused_raises():
    with pytest.raises(BackendFailed, match="llm=vllm: all 2 prompts"):
        backend(FakeEngine()).generate([chat("TOO_LONG 1"), chat("TOO_LONG 2")], SAMPLED)
    # One prompt alone that vLLM refuses is that prompt's problem: dropped, not a failed shard.
    assert backend(FakeEngine()).generate([chat("TOO_LONG")], SAMPLED) == [["", ""]]


def test_greedy_calls_carry_no_seed_and_llm_seeded_false_drops_seeds():
    engine = FakeEngine()
    assert backend(engine).generate([chat("a")], Sampling(n=3, temperature=0.0, seed=5)) == [["a@None.0"] * 3]
    unseeded = VLLM("unused", engine=FakeEngine(), sampling_params=dict, seeded=False)
    unseeded.generate([chat("a")], SAMPLED)
    assert unseeded.engine.calls == [[("a", None)]]


@dataclasses.dataclass
class Sample:
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 16


def stage(engine, batch_size=256):
    s = Solutions(llm={"backend": "vllm", "batch_size": batch_size}, model={}, sampling=Sample(), num_solutions=2)
    s.engine = backend(engine)
    return s


def shard(tmp_path: Path, n: int) -> Path:
    rows = [{"problem_id": f"p{i:03d}", "problem": f"problem {i}", "signature": "def f(x):", "entry_point": "f"}
            for i in range(n)]
    (tmp_path / "in").mkdir(exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in" / "shard-00000.parquet")
    return tmp_path / "in"


def test_llm_batch_size_reaches_the_engine_and_seeds_follow_the_row(tmp_path):
    engine = FakeEngine()
    run_shard(stage(engine, batch_size=256), shard(tmp_path, 300), tmp_path / "out", "shard-00000")
    assert [len(c) for c in engine.calls] == [256, 44]   # llm.batch_size, not Stage's 64
    seeds = {text: seed for call in engine.calls for text, seed in call}
    assert len(set(seeds.values())) == 300                # one seed per prompt
    # The same row in other batches (a different batch size, a retried shard) gets the same seed.
    again = FakeEngine()
    run_shard(stage(again, batch_size=7), shard(tmp_path, 300), tmp_path / "out2", "shard-00000")
    assert {text: seed for call in again.calls for text, seed in call} == seeds


def test_a_dead_engine_fails_the_shard_instead_of_completing_it(tmp_path):
    with pytest.raises(EngineDeadError):
        run_shard(stage(FakeEngine(die=EngineDeadError())), shard(tmp_path, 5), tmp_path / "out", "shard-00000")
    assert not is_done(tmp_path / "out", "shard-00000")
    assert not list((tmp_path / "out").glob("**/*.parquet"))
