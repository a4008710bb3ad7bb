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
        # Local scratch only: Ray keeps the real checkpoints in storage_path. With async uploads Ray deletes each
        # local copy once it is uploaded; the Trainer deleting it first would cut an upload short.
        save_total_limit=None if tcfg.checkpoint_upload == "async" else 1,
        report_to=report_to,
        seed=seed,
        data_seed=seed,
        use_cpu=not tcfg.use_gpu,
        bf16=bool(tcfg.use_gpu and tcfg.bf16),   # TRL turns bf16 on by default; CPUs here train in fp32
        dataloader_num_workers=0,      # one torch thread per worker already; forked loaders only add startup
        disable_tqdm=True,
        save_only_model=False,         # optimizer, scheduler and RNG state too: resume must be exact
    )
    # Activation checkpointing: an 8B model's activations do not fit a GPU without it; on CPU (small models) it
    # only costs ~20%. null = on with GPUs. transformers 5 renamed the argument.
    checkpointing = bool(tcfg.use_gpu if tcfg.activation_checkpointing is None else tcfg.activation_checkpointing)
    args[_checkpointing_arg()] = checkpointing and not tcfg.fsdp
    if tcfg.fsdp:
        # TRL/transformers' own FSDP (Accelerate's plugin); FSDP wants checkpointing in its own config, and
        # transformers refuses both at once. Accelerate enables FSDP on GPUs only (MULTI_CPU ignores it).
        args.update(fsdp=True, fsdp_config={**dict(tcfg.fsdp_config), "activation_checkpointing": checkpointing})
    return args


def train_dtype(tcfg: Any) -> str:
    """Weights' dtype: `train.dtype`, else bfloat16 on GPU (an 8B model: 16 GB instead of 32) and float32 on CPU."""
    return tcfg.dtype or ("bfloat16" if tcfg.use_gpu else "float32")


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


def load_model(model_path: str, dtype: str = "float32"):
    """Weights in `dtype` (see `train_dtype`); the optimizer state follows the weights' dtype."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype))
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if not tokenizer.chat_template:
        raise ValueError(f"model {model_path}: the tokenizer has no chat template; conversational SFT/DPO need one")
    return model, tokenizer


def make_trainer(model_path: str, dataset, tcfg: Any, output_dir: str, report_to: str, seed: int, callbacks=()):
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(**common_args(tcfg, tcfg.sft, output_dir, report_to, seed),
                     completion_only_loss=True, packing=False)
    model, tokenizer = load_model(model_path, train_dtype(tcfg))
    return SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                      peft_config=lora_config(tcfg), callbacks=list(callbacks))
