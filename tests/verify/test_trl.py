"""TRL's own trainers accept the produced sft and dpo folders as they are (a few steps with the tiny model)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from datasets import load_dataset

from factory.cli import main as factory
from tests.verify import humaneval as he


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trl")
    rows = [he.tests_row("HumanEval/63", [None, "two_is_two", "cut_large"]), he.tests_row("HumanEval/0", [None, "self_pairs"])]
    keys = ("problem_id", "problem", "signature", "entry_point", "test_inputs", "output_samples", "output_reasoning")
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps({k: r[k] for k in keys} | {"solutions": [s["code"] for s in r["solutions"]]}) + "\n"
                           for r in rows))
    assert factory(["verify", str(src), f"run_dir={tmp / 'run'}", "executor=local"]) == 0
    return tmp / "run"


@pytest.fixture(scope="module")
def tiny():
    from transformers import AutoTokenizer

    from factory.config import load_config
    from factory.llm.models import resolve_model

    torch.set_num_threads(1)   # 10-30x faster for tiny models on this machine (shared/notes.md)
    path = resolve_model(load_config(["model=tiny"]).model)
    return path, AutoTokenizer.from_pretrained(path)


def common(tmp_path):
    return dict(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2, bf16=False, use_cpu=True,
                report_to=[], save_strategy="no", max_length=2048)   # HumanEval prompts run long


def test_sft_trainer_trains_on_the_sft_folder(produced, tiny, tmp_path):
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    data = load_dataset("parquet", data_dir=str(produced / "sft"), split="train")   # the folder as it is
    assert {"prompt", "completion", "role"} <= set(data.column_names) and set(data["role"]) == {"solver", "verifier"}
    model = AutoModelForCausalLM.from_pretrained(tiny[0])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = SFTTrainer(model=model, args=SFTConfig(learning_rate=1e-2, **common(tmp_path)), train_dataset=data,
                     processing_class=tiny[1]).train()
    assert out.global_step == 2 and math.isfinite(out.training_loss)
    assert all(not torch.equal(before[n], p) for n, p in model.named_parameters())


def test_dpo_trainer_trains_on_the_dpo_folder(produced, tiny, tmp_path):
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    data = load_dataset("parquet", data_dir=str(produced / "dpo"), split="train")
    assert {"prompt", "chosen", "rejected"} <= set(data.column_names) and set(data["role"]) == {"solver", "verifier"}
    model = AutoModelForCausalLM.from_pretrained(tiny[0])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = DPOTrainer(model=model, args=DPOConfig(learning_rate=1e-3, **common(tmp_path)), train_dataset=data,
                     processing_class=tiny[1]).train()
    assert out.global_step == 2 and math.isfinite(out.training_loss)
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())
