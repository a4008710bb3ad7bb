"""vLLM's offline engine as an `LLM`, for GPU machines (pip install 'solver-verifier-factory[gpu]').

Why vLLM inside our own Ray Data actor rather than `ray.data.llm`'s processor: every stage already runs through
one executor (`map_batches` with an actor pool whose placement comes from `llm.num_gpus` and `llm.concurrency`),
so the vLLM engine is just another `LLM` built in the stage's `setup()`; the stage keeps its own prompt building,
parsing and drop reasons, and the same stage runs with `llm=hf` on a laptop.

Tensor parallelism: the actor reserves `num_gpus = tensor_parallel_size` GPUs, Ray sets CUDA_VISIBLE_DEVICES to
them, and vLLM's multiprocessing executor spreads the model over exactly those GPUs.

vLLM is imported only when an engine is built: CPU machines and CPU tests never import it. What can be checked
without a GPU (turning `Sampling` into SamplingParams arguments, reading replies, which errors are a prompt's and
which the engine's) is plain code below, tested with a stand-in engine (tests/llm/test_vllm.py).

Errors (vLLM 0.29): a prompt vLLM refuses (longer than max_model_len, bad parameters) raises a
`VLLMValidationError` (a `VLLMClientError`; older paths a `ValueError`) for the whole `chat()` call, so the call is
retried prompt by prompt and only the refused prompts get empty replies. Anything else (`EngineDeadError`, CUDA out
of memory, a crashed worker) propagates: Ray restarts the actor and retries the shard. Swallowing those would turn a
dead engine into shards of empty replies marked complete, which reruns then skip.
"""

from __future__ import annotations

import logging
from typing import Any

from factory.llm.base import Messages, Sampling, raise_if_all_failed

log = logging.getLogger(__name__)


# Class names, not classes: vLLM is not importable on CPU machines, its classes move between releases
# (vllm.exceptions since 0.2x), and tests raise stand-ins of the same names.
PROMPT_ERRORS = frozenset({"VLLMClientError", "VLLMValidationError", "ValueError"})
ENGINE_ERRORS = frozenset({"EngineDeadError", "OutOfMemoryError", "VLLMServerError"})


def is_prompt_error(err: BaseException) -> bool:
    """True when `err` is vLLM refusing a prompt (a per-prompt fallback is right), False for engine failures."""
    names = {c.__name__ for c in type(err).__mro__}
    return bool(names & PROMPT_ERRORS) and not names & ENGINE_ERRORS


def sampling_params_kwargs(sampling: Sampling, seeded: bool = True) -> tuple[dict[str, Any], int]:
    """Arguments of vllm.SamplingParams for `sampling`, and how many times to copy each reply.

    Greedy decoding (temperature 0) gives n identical replies, so one is generated and copied n times: cheaper,
    and some vLLM versions reject n > 1 with greedy sampling.
    """
    greedy = sampling.temperature <= 0
    kwargs: dict[str, Any] = {
        "n": 1 if greedy else sampling.n,
        "temperature": 0.0 if greedy else sampling.temperature,
        "top_p": 1.0 if greedy else sampling.top_p,
        "max_tokens": sampling.max_tokens,
    }
    # A seeded request gets its own torch generator in vLLM 0.29, which makes the sampler of the whole batch fall
    # back from FlashInfer to the native one (v1/sample/ops/topk_topp_sampler.py): `llm.seeded=false` trades a
    # retried shard's reproducible replies for that speed. Greedy decoding needs no seed.
    if seeded and not greedy and sampling.seed is not None:
        kwargs["seed"] = sampling.seed
    return kwargs, sampling.n if greedy else 1


def per_prompt_kwargs(sampling: Sampling, count: int, seeded: bool = True) -> tuple[list[dict[str, Any]], int]:
    """One SamplingParams' arguments per prompt: each prompt its own seed (`Sampling.seeds`), so prompts of a batch
    are not correlated (vLLM seeds child i of a request with seed + i) and a prompt samples the same replies in
    whatever batch a retried shard puts it."""
    kwargs, copies = sampling_params_kwargs(sampling, seeded)
    out = []
    for i in range(count):
        k = dict(kwargs)
        if "seed" in k:
            k["seed"] = sampling.seed_of(i)
        out.append(k)
    return out, copies


def replies_from_outputs(outputs: list[Any], n: int, copies: int) -> list[list[str]]:
    """vLLM RequestOutputs (each with `.outputs[*].text`) -> n reply strings per prompt, padded with ''."""
    replies = []
    for output in outputs:
        texts = [c.text for c in getattr(output, "outputs", None) or []] * copies
        replies.append((texts + [""] * n)[:n])
    return replies


class VLLM:
    def __init__(self, model_path: str, *, tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9,
                 max_model_len: int | None = None, dtype: str = "auto", seeded: bool = True,
                 engine: Any = None, sampling_params: Any = None, structured_params: Any = None):
        """`engine`, `sampling_params` and `structured_params` (stand-ins for vllm.LLM, vllm.SamplingParams and
        vllm.sampling_params.StructuredOutputsParams) are for CPU tests."""
        self.seeded = bool(seeded)
        if engine is None:
            import vllm  # GPU only, and heavy: imported by the worker that runs the engine, never earlier

            engine = vllm.LLM(
                model=model_path, tensor_parallel_size=int(tensor_parallel_size),
                gpu_memory_utilization=float(gpu_memory_utilization),
                max_model_len=int(max_model_len) if max_model_len else None,   # None: the model's own context
                dtype=dtype, distributed_executor_backend="mp" if int(tensor_parallel_size) > 1 else None,
            )
            sampling_params = vllm.SamplingParams
            # vLLM >= 0.10.2 (0.29 here): `structured_outputs=StructuredOutputsParams(regex=...)`, which replaced
            # `guided_decoding=GuidedDecodingParams(...)`. Its backend is "auto" (xgrammar where it can).
            from vllm.sampling_params import StructuredOutputsParams as structured_params
        self.engine, self.sampling_params, self.structured_params = engine, sampling_params, structured_params
        self.tokens_out = 0   # generated tokens, all calls: the stages report them per shard

    def generate(self, prompts: list[Messages], sampling: Sampling) -> list[list[str]]:
        if not prompts:
            return []
        kwargs, copies = per_prompt_kwargs(sampling, len(prompts), self.seeded)
        params = [self.sampling_params(**k, **self._structured(sampling.regex_of(i))) for i, k in enumerate(kwargs)]
        try:
            outputs = self.engine.chat(prompts, params, use_tqdm=False)
        except Exception as err:
            if not is_prompt_error(err):
                raise   # the engine is gone (or out of memory): the actor restarts, the shard is retried
            log.warning("vLLM refused a prompt of the batch (%r); retrying its %d prompts one by one", err,
                        len(prompts))
            return self._one_by_one(prompts, params, sampling.n, copies)
        self._count(outputs)
        return replies_from_outputs(outputs, sampling.n, copies)

    def _structured(self, regex: str | None) -> dict[str, Any]:
        """The SamplingParams argument that makes vLLM's reply match `regex` (factory/llm/structured.py)."""
        return {} if regex is None else {"structured_outputs": self.structured_params(regex=regex)}

    def _count(self, outputs: list[Any]) -> None:
        self.tokens_out += sum(
            len(getattr(c, "token_ids", None) or ()) for o in outputs for c in getattr(o, "outputs", None) or [])

    def _one_by_one(self, prompts: list[Messages], params: list[Any], n: int, copies: int) -> list[list[str]]:
        replies, failed, last = [], 0, None
        for prompt, p in zip(prompts, params):
            try:
                outputs = self.engine.chat([prompt], [p], use_tqdm=False)
                self._count(outputs)
                replies += replies_from_outputs(outputs, n, copies)
            except Exception as err:
                if not is_prompt_error(err):
                    raise
                log.warning("vLLM refused one prompt: %r", err)
                failed, last = failed + 1, err
                replies.append([""] * n)
        raise_if_all_failed("vllm", failed, len(prompts), last)
        return replies
