"""DPO recipe: TRL's own `DPOTrainer` on prompt/chosen/rejected rows, usually starting from the SFT model.

The reference model is TRL's business: with LoRA it is the same weights with the adapter disabled; without LoRA
TRL keeps a frozen copy of the starting model (`ref_model=None`) unless `train.dpo.precompute_ref` (null: on with
GPUs) has TRL compute the reference log-probs once before training, so no second 8B model sits in GPU memory.
"""

from __future__ import annotations

from typing import Any

from factory.train.sft import common_args, load_model, lora_config, train_dtype


def make_trainer(model_path: str, dataset, tcfg: Any, output_dir: str, report_to: str, seed: int, callbacks=()):
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**common_args(tcfg, tcfg.dpo, output_dir, report_to, seed),
                     beta=tcfg.dpo.beta, loss_type=[tcfg.dpo.loss_type],
                     precompute_ref_log_probs=precompute_ref(tcfg))
    model, tokenizer = load_model(model_path, train_dtype(tcfg))
    return DPOTrainer(model=model, ref_model=None, args=args, train_dataset=dataset, processing_class=tokenizer,
                      peft_config=lora_config(tcfg), callbacks=list(callbacks))


def precompute_ref(tcfg: Any) -> bool:
    """With LoRA the reference costs nothing (adapter off); otherwise precompute on GPU unless told."""
    if tcfg.lora.enabled:
        return False
    return bool(tcfg.use_gpu if tcfg.dpo.precompute_ref is None else tcfg.dpo.precompute_ref)
