"""SFT recipe: TRL's own `SFTTrainer` on conversational prompt/completion rows (loss on the completion only).

A recipe, not a framework: arguments, model, trainer. `factory/train/ray.py` runs it on every Ray Train worker;
it runs the same in a plain process (the benchmark's single-process baseline does exactly that).
"""

from __future__ import annotations

from typing import Any


def common_args(tcfg: Any, phase: Any, output_dir: str, report_to: str, seed: int) -> dict:
    """TrainingArguments shared by SFT and DPO: what the CPU and the Ray glue need, the rest from config."""
    args = dict(
        output_dir=output_dir,
        per_device_train_batch_size=tcfg.batch_size,
        gradient_accumulation_steps=tcfg.grad_accum,
        learning_rate=phase.lr,
        num_train_epochs=phase.epochs,
        max_steps=phase.max_steps,
        lr_scheduler_type=tcfg.lr_scheduler,
        warmup_steps=tcfg.warmup_steps,
        max_length=tcfg.max_length,
        logging_steps=1,
        save_strategy="steps",
        save_steps=tcfg.save_steps,
        save_total_limit=1,          # local scratch only: Ray keeps the real checkpoints in storage_path
        report_to=report_to,
        seed=seed,
        data_seed=seed,
        use_cpu=not tcfg.use_gpu,
        bf16=bool(tcfg.use_gpu and tcfg.bf16),   # TRL turns bf16 on by default; CPUs here train in fp32
        dataloader_num_workers=0,      # one torch thread per worker already; forked loaders only add startup
        disable_tqdm=True,
        save_only_model=False,         # optimizer, scheduler and RNG state too: resume must be exact
    )
    # On by default in TRL: ~20% slower, and pointless for small CPU models. transformers 5 renamed the argument.
    args[_checkpointing_arg()] = False
    return args


def _checkpointing_arg() -> str:
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"


def lora_config(tcfg: Any):
    """A peft LoraConfig when `train.lora.enabled`, else None (full fine-tuning)."""
    if not tcfg.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(r=tcfg.lora.r, lora_alpha=tcfg.lora.alpha, lora_dropout=tcfg.lora.dropout,
                      target_modules=tcfg.lora.target_modules, task_type="CAUSAL_LM")


def load_model(model_path: str):
    """fp32 weights on CPU and GPU alike: bf16 on GPU is autocast (`bf16=True`), the master copy stays fp32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if not tokenizer.chat_template:
        raise ValueError(f"model {model_path}: the tokenizer has no chat template; conversational SFT/DPO need one")
    return model, tokenizer


def make_trainer(model_path: str, dataset, tcfg: Any, output_dir: str, report_to: str, seed: int, callbacks=()):
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(**common_args(tcfg, tcfg.sft, output_dir, report_to, seed),
                     completion_only_loss=True, packing=False)
    model, tokenizer = load_model(model_path)
    return SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                      peft_config=lora_config(tcfg), callbacks=list(callbacks))
