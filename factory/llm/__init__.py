"""LLM backends behind one interface (`factory.llm.base.LLM`), chosen by config: `llm=hf|openvino|vllm|openai`.

`make_llm` is called in a stage's `setup()`, i.e. inside the worker that will generate: the heavy imports
(torch, transformers, vLLM) and the model load happen there, never on the driver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.llm.base import LLM, Messages, Sampling
from factory.llm.models import resolve_model

__all__ = ["LLM", "Messages", "Sampling", "make_llm", "resolve_model"]

BACKENDS = ("hf", "openvino", "vllm", "openai")


def make_llm(llm_cfg: Any, model_cfg: Any) -> LLM:
    backend = llm_cfg.get("backend")
    if backend == "hf":
        from factory.llm.hf import HFLLM

        return HFLLM(
            resolve_model(model_cfg), device=llm_cfg.get("device"), dtype=llm_cfg.get("dtype"),
            torch_threads=llm_cfg.get("torch_threads"), batch_size=llm_cfg.get("batch_size") or 8,
        )
    if backend == "openvino":
        from factory.executors.resources import worker_cpus
        from factory.llm.export import export_openvino
        from factory.llm.models import cache_root
        from factory.llm.openvino import OpenVINOLLM

        hf_folder = resolve_model(model_cfg)
        env_dir = llm_cfg.get("export_env")
        ir = export_openvino(hf_folder, llm_cfg.get("weight_format") or "fp16", cache_root(model_cfg),
                             Path(env_dir).expanduser() if env_dir else None)
        return OpenVINOLLM(hf_folder, str(ir), threads=llm_cfg.get("threads") or worker_cpus(),
                           precision=llm_cfg.get("precision"))
    if backend == "vllm":
        from factory.llm.vllm import VLLM

        return VLLM(
            resolve_model(model_cfg), tensor_parallel_size=llm_cfg.get("tensor_parallel_size", 1),
            gpu_memory_utilization=llm_cfg.get("gpu_memory_utilization", 0.9),
            max_model_len=llm_cfg.get("max_model_len"), dtype=llm_cfg.get("dtype") or "auto",
            seeded=llm_cfg.get("seeded", True),
        )
    if backend == "openai":
        from factory.llm.openai import OpenAIChat

        return OpenAIChat(
            base_url=llm_cfg.get("base_url"), model=_served_name(llm_cfg, model_cfg),
            api_key_env=llm_cfg.get("api_key_env"), max_concurrency=llm_cfg.get("max_concurrency", 64),
            max_retries=llm_cfg.get("max_retries", 5), timeout=llm_cfg.get("timeout", 120),
            regex_field=llm_cfg.get("regex_field", "structured_outputs"),
        )
    raise ValueError(f"llm.backend={backend!r} is not one of {', '.join(BACKENDS)}")


def _served_name(llm_cfg: Any, model_cfg: Any) -> str:
    # An endpoint serves a model under a name of its own; `vllm serve PATH` uses PATH (a hub id or a local
    # folder) by default, so that is the best guess when llm.model is not set.
    if llm_cfg.get("model"):
        return str(llm_cfg.get("model"))
    if model_cfg.get("source") in ("hub", "local") and model_cfg.get("path"):
        return str(model_cfg.get("path"))
    return str(model_cfg.get("name"))
