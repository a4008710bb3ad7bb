"""DPO recipe: TRL's own `DPOTrainer` on prompt/chosen/rejected rows, usually starting from the SFT model.

The reference model is TRL's business: with LoRA it is the same weights with the adapter disabled, without LoRA
TRL keeps a frozen copy of the starting model (`ref_model=None`).
"""

from __future__ import annotations

from typing import Any

from factory.train.sft import common_args, load_model, lora_config


def make_trainer(model_path: str, dataset, tcfg: Any, output_dir: str, report_to: str, seed: int, callbacks=()):
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**common_args(tcfg, tcfg.dpo, output_dir, report_to, seed),
                     beta=tcfg.dpo.beta, loss_type=[tcfg.dpo.loss_type])
    model, tokenizer = load_model(model_path)
    return DPOTrainer(model=model, ref_model=None, args=args, train_dataset=dataset, processing_class=tokenizer,
                      peft_config=lora_config(tcfg), callbacks=list(callbacks))
