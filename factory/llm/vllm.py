"""vLLM's offline engine as an `LLM`, for GPU machines (pip install 'solver-verifier-factory[gpu]').

Why vLLM inside our own Ray Data actor rather than `ray.data.llm`'s processor: every stage already runs through
one executor (`map_batches` with an actor pool whose placement comes from `llm.num_gpus` and `llm.concurrency`),
so the vLLM engine is just another `LLM` built in the stage's `setup()`; the stage keeps its own prompt building,
parsing and drop reasons, and the same stage runs with `llm=hf` on a laptop.

Tensor parallelism: the actor reserves `num_gpus = tensor_parallel_size` GPUs, Ray sets CUDA_VISIBLE_DEVICES to
them, and vLLM's multiprocessing executor spreads the model over exactly those GPUs.

vLLM is imported only when an engine is built: CPU machines and CPU tests never import it. What can be checked
without a GPU (turning `Sampling` into SamplingParams arguments, reading replies) are pure functions below.
"""

from __future__ import annotations

import logging
from typing import Any

from factory.llm.base import Messages, Sampling

log = logging.getLogger(__name__)


def sampling_params_kwargs(sampling: Sampling) -> tuple[dict[str, Any], int]:
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
    if sampling.seed is not None:
        kwargs["seed"] = sampling.seed
    return kwargs, sampling.n if greedy else 1


def replies_from_outputs(outputs: list[Any], n: int, copies: int) -> list[list[str]]:
    """vLLM RequestOutputs (each with `.outputs[*].text`) -> n reply strings per prompt, padded with ''."""
    replies = []
    for output in outputs:
        texts = [c.text for c in getattr(output, "outputs", None) or []] * copies
        replies.append((texts + [""] * n)[:n])
    return replies


class VLLM:
    def __init__(self, model_path: str, *, tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9,
                 max_model_len: int | None = None, dtype: str = "auto"):
        import vllm  # GPU only, and heavy: imported by the worker that runs the engine, never earlier

        self.vllm = vllm
        self.engine = vllm.LLM(
            model=model_path, tensor_parallel_size=int(tensor_parallel_size),
            gpu_memory_utilization=float(gpu_memory_utilization), max_model_len=max_model_len, dtype=dtype,
            distributed_executor_backend="mp" if int(tensor_parallel_size) > 1 else None,
        )

    def generate(self, prompts: list[Messages], sampling: Sampling) -> list[list[str]]:
        kwargs, copies = sampling_params_kwargs(sampling)
        params = self.vllm.SamplingParams(**kwargs)
        try:
            outputs = self.engine.chat(prompts, params, use_tqdm=False)
        except Exception as err:  # e.g. one prompt longer than max_model_len fails the whole call
            log.warning("vLLM batch failed (%r); retrying its %d prompts one by one", err, len(prompts))
            return [self._one(p, params, sampling.n, copies) for p in prompts]
        return replies_from_outputs(outputs, sampling.n, copies)

    def _one(self, prompt: Messages, params: Any, n: int, copies: int) -> list[str]:
        try:
            return replies_from_outputs(self.engine.chat([prompt], params, use_tqdm=False), n, copies)[0]
        except Exception as err:
            log.warning("vLLM failed for one prompt: %r", err)
            return [""] * n
