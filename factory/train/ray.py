"""Ray Train glue: run the SFT or DPO recipe on N workers (DDP) with checkpoints in shared storage.

`fit()` is the driver side; `train_loop` is Ray Train's `train_loop_per_worker`. Each worker loads the same data,
builds the TRL trainer from the recipe, and trains; the Trainer's distributed sampler splits the rows by rank.
Facts this relies on (Ray 2.60, Train V2): `ray.train.report` is a barrier every rank reaches the same number of
times; reports that carry files from several ranks merge into one checkpoint folder; a new `fit()` with the same
run name and storage path starts from that run's latest checkpoint (`ray.train.get_checkpoint()`).

Per run, under `out_dir` (see docs/training.md): `model/` (HF folder), `ranks/rank_<r>.json` (what each rank
trained on, its parameter digest, rank 0's log history), `ranks/probe.pt`, `metrics.json` (written last: its
existence means the run completed), `checkpoints/` (unless `train.storage_path` points elsewhere).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from factory.train import data as train_data

PROBE = [{"role": "user", "content": "Write a function add(a, b) that returns a + b."}]


def run_name(kind: str, out_dir: Path, resume: bool) -> str:
    # Deterministic per output folder, so a rerun finds its checkpoints even in a storage_path shared by many runs.
    digest = hashlib.sha1(str(out_dir.resolve()).encode()).hexdigest()[:8]
    return f"{kind}-{digest}" if resume else f"{kind}-{digest}-{time.strftime('%Y%m%d-%H%M%S')}"


def wandb_env(cfg, out_dir: Path, kind: str) -> dict[str, str]:
    """Environment for TRL's W&B callback on rank 0: offline unless a key is present (never needed to succeed)."""
    if not cfg.wandb.enabled:
        return {}
    mode = cfg.wandb.mode or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
    return {"WANDB_MODE": mode, "WANDB_DIR": str(out_dir), "WANDB_PROJECT": cfg.wandb.project,
            "WANDB_NAME": f"{Path(cfg.run_dir).name}-{kind}", "WANDB_SILENT": "true"}


def fit(cfg, kind: str, data_dir: str | Path, out_dir: str | Path, model_out: str | Path | None = None) -> dict:
    """Train `kind` ("sft" | "dpo") on `data_dir` from `cfg.model`; returns the metrics written to metrics.json."""
    import ray.train
    from ray.train.torch import TorchTrainer

    from factory.executors.ray_data import init_ray

    out_dir = Path(out_dir).resolve()
    model_out = Path(model_out).resolve() if model_out else out_dir / "model"
    # Validate on the driver: a bad shard fails here, naming the file, before any worker starts.
    _, roles = train_data.load(data_dir, kind, cfg.train.verifier_fraction, cfg.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    tcfg = cfg.train
    storage = tcfg.storage_path or str(out_dir / "checkpoints")
    config = {"kind": kind, "data": str(Path(data_dir).resolve()), "out_dir": str(out_dir),
              "model_out": str(model_out), "seed": cfg.seed, "env": wandb_env(cfg, out_dir, kind),
              "model": OmegaConf.to_container(cfg.model, resolve=True),
              "train": OmegaConf.to_container(tcfg, resolve=True)}
    # Reports of an earlier attempt (maybe with another world size) must not mix with this one's.
    shutil.rmtree(out_dir / "ranks", ignore_errors=True)
    (out_dir / "ranks").mkdir()
    init_ray(cfg.cluster)
    trainer = TorchTrainer(
        train_loop, train_loop_config=config,
        scaling_config=ray.train.ScalingConfig(num_workers=tcfg.num_workers, use_gpu=tcfg.use_gpu,
                                               resources_per_worker={"CPU": tcfg.cpus_per_worker}),
        run_config=ray.train.RunConfig(
            name=run_name(kind, out_dir, tcfg.resume), storage_path=storage,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=tcfg.keep_checkpoints),
            failure_config=ray.train.FailureConfig(max_failures=tcfg.max_failures)),
    )
    start = time.perf_counter()
    result = trainer.fit()
    metrics = summarize(out_dir, kind, roles, time.perf_counter() - start)
    metrics.update(data=config["data"], model_out=str(model_out),
                   checkpoint=result.checkpoint.path if result.checkpoint else None)
    _write_json(out_dir / "metrics.json", metrics)  # last: its existence marks the run complete
    return metrics


def summarize(out_dir: Path, kind: str, roles: dict, fit_seconds: float) -> dict:
    ranks = [json.loads(p.read_text()) for p in sorted((out_dir / "ranks").glob("rank_*.json"))]
    history = ranks[0]["log_history"]
    losses = [h["loss"] for h in history if "loss" in h]
    tokens = sum(r["tokens"] for r in ranks)
    train_seconds = max(r["train_seconds"] for r in ranks)
    return {"kind": kind, "rows": sum(roles.values()), "roles": roles, "world_size": len(ranks),
            "steps": ranks[0]["global_step"], "resumed_from_step": ranks[0]["resumed_from_step"],
            "first_loss": losses[0] if losses else None, "final_loss": losses[-1] if losses else None,
            "tokens": tokens, "train_seconds": round(train_seconds, 3), "fit_seconds": round(fit_seconds, 3),
            "tokens_per_second": round(tokens / train_seconds, 1) if train_seconds else None}


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- worker side


def train_loop(config: dict) -> None:
    """Ray Train's train_loop_per_worker: recipe -> train (resuming if a checkpoint exists) -> save."""
    import ray.train
    import torch
    from omegaconf import OmegaConf

    from factory.llm.models import resolve_model
    from factory.train import dpo, sft

    os.environ.update(config["env"])
    tcfg = OmegaConf.create(config["train"])
    torch.set_num_threads(tcfg.threads_per_worker)
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    dataset, _ = train_data.load(config["data"], config["kind"], tcfg.verifier_fraction, config["seed"])
    recipe = sft if config["kind"] == "sft" else dpo
    scratch = tempfile.mkdtemp(prefix=f"factory-{config['kind']}-rank{rank}-")  # node-local; storage keeps copies
    callbacks = [ReportCheckpoints(rank, tcfg.checkpoint_upload)]
    if tcfg.fail_at_step:
        callbacks.append(FaultDrill(tcfg.fail_at_step))
    trainer = recipe.make_trainer(resolve_model(config["model"]), dataset, tcfg, scratch,
                                  "wandb" if config["env"] else "none", config["seed"], callbacks)
    recorder = trainer.data_collator = SeenRecorder(trainer.data_collator)
    try:
        start = time.perf_counter()
        resumed = _train(trainer, ray.train.get_checkpoint())
        seconds = time.perf_counter() - start
        out_dir = Path(config["out_dir"])
        (out_dir / "ranks").mkdir(parents=True, exist_ok=True)
        digest = param_digest(trainer.model)  # before save_final: merging LoRA rewrites rank 0's weights in place
        save_final(trainer, Path(config["model_out"]), out_dir / "ranks" / "probe.pt", rank)
        _write_json(out_dir / "ranks" / f"rank_{rank}.json", {
            "rank": rank, "world_size": world, "global_step": trainer.state.global_step, "resumed_from_step": resumed,
            "examples": recorder.seen, "tokens": recorder.tokens, "train_seconds": seconds, "param_sha256": digest,
            "log_history": trainer.state.log_history if rank == 0 else []})
        ray.train.report({"global_step": trainer.state.global_step})  # every rank: the final barrier
    finally:
        if tcfg.checkpoint_upload != "async":  # async: Ray deletes each local checkpoint once it is uploaded
            shutil.rmtree(scratch, ignore_errors=True)


def _train(trainer, checkpoint) -> int | None:
    """trainer.train(), from `checkpoint` when Ray has one for this run; returns the step it resumed from."""
    if checkpoint is None:
        trainer.train()
        return None
    folder = rank_view(checkpoint, ray_rank())
    step = json.loads((Path(folder) / "trainer_state.json").read_text())["global_step"]
    trainer.train(resume_from_checkpoint=folder)
    return step


def ray_rank() -> int:
    import ray.train

    return ray.train.get_context().get_world_rank()


def rank_view(checkpoint, rank: int) -> str:
    """A local folder with what `rank` needs to resume from `checkpoint`.

    On shared storage (a local or NFS path) that is the checkpoint folder itself: nothing is copied. On object
    storage (s3://...) only this rank's files are downloaded: the shared ones (trainer state, config, tokenizer)
    and its own shards (FSDP's `__<rank>_*.distcp`, `rng_state_<rank>.pth`), never the other ranks' shards.
    """
    import pyarrow.fs

    if isinstance(checkpoint.filesystem, pyarrow.fs.LocalFileSystem):
        return checkpoint.path
    dest = Path(tempfile.mkdtemp(prefix=f"factory-resume-rank{rank}-"))
    selector = pyarrow.fs.FileSelector(checkpoint.path, recursive=True)
    for info in checkpoint.filesystem.get_file_info(selector):
        rel = os.path.relpath(info.path, checkpoint.path)
        if info.type == pyarrow.fs.FileType.File and needed_by(rel, rank):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            pyarrow.fs.copy_files(info.path, str(dest / rel), source_filesystem=checkpoint.filesystem)
    return str(dest)


def needed_by(relpath: str, rank: int) -> bool:
    """Whether a checkpoint file belongs to `rank` (shared files belong to every rank)."""
    import re

    name = Path(relpath).name
    shard = re.fullmatch(r"__(\d+)_\d+\.distcp", name) or re.fullmatch(r"rng_state_(\d+)\.pth", name)
    return shard is None or int(shard.group(1)) == rank


def save_final(trainer, model_out: Path, probe_path: Path, rank: int) -> None:
    """The trained model as a plain HF folder (LoRA merged), written aside by rank 0 then renamed into place.

    Called on every rank: under FSDP gathering the full state dict is a collective. The probe's inputs go to the
    model's device (cuda on GPU workers) and its tensors come back to CPU, so the file loads anywhere.
    """
    import torch
    from peft import PeftModel

    model, state = trainer.model, None
    if trainer.is_fsdp_enabled:
        state = trainer.accelerator.get_state_dict(trainer.model)   # every rank takes part; rank 0 gets it all
        model = trainer.accelerator.unwrap_model(trainer.model)
    if rank != 0:
        return
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()  # hf and vLLM then load the folder like any other model
    tokenizer = trainer.processing_class
    tmp = model_out.with_name(model_out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, state_dict=state)   # in the weights' dtype: bf16 on GPU
    tokenizer.save_pretrained(tmp)
    if model_out.exists():  # left by a run killed after the rename but before metrics.json: not a finished product
        shutil.rmtree(model_out)
    os.rename(tmp, model_out)
    if state is not None:   # a sharded model cannot run a forward on one rank: probe the saved folder
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(model_out, dtype=next(iter(state.values())).dtype)
    model.eval()
    ids = tokenizer.apply_chat_template(PROBE, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    input_ids = ids["input_ids"].to(model.device)
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits
    torch.save({"input_ids": input_ids.cpu(), "logits": logits.float().cpu()}, probe_path)


def param_digest(model) -> str:
    """sha256 over every parameter's bytes: equal digests on all ranks means DDP kept the replicas identical."""
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        full = p.full_tensor() if hasattr(p, "full_tensor") else p   # FSDP2 shards: a collective, every rank
        h.update(full.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


class SeenRecorder:
    """Wraps the trainer's own data collator to record which rows this rank trained on (hash) and its tokens.

    The collator is called with exactly the rows of each batch the rank's sampler drew, so this is the ground
    truth of the data split, not a re-derivation of it.
    """

    def __init__(self, collator):
        self.collator, self.seen, self.tokens = collator, [], 0

    def __call__(self, features):
        for f in features:
            # SFT rows carry input_ids; DPO rows prompt_ids, chosen_ids, rejected_ids.
            ids = [list(f[k]) for k in sorted(f) if k.endswith("_ids") and k not in ("token_type_ids", "position_ids")]
            self.seen.append(hashlib.sha1(json.dumps(ids).encode()).hexdigest()[:16])
            self.tokens += sum(len(x) for x in ids)
        return self.collator(features)


def _trainer_callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class ReportCheckpoints(_trainer_callback_base()):
    """After each Trainer save, every rank reports its own checkpoint files (rank 0: weights, optimizer,
    scheduler, trainer state; others: their RNG state) under one folder name, which Ray merges in storage."""

    def __init__(self, rank: int, upload: str = "sync"):
        self.rank, self.upload = rank, upload

    def on_save(self, args, state, control, **kwargs):
        import ray.train
        from ray.train import CheckpointUploadMode

        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        metrics = {k: v for log in state.log_history for k, v in log.items() if isinstance(v, (int, float))}
        metrics["global_step"] = state.global_step
        # async: training goes on while Ray copies the folder to storage_path (an 8B model's checkpoint is ~100 GB
        # with the optimizer state), and Ray deletes the local copy once uploaded; the Trainer must not (see
        # save_total_limit in sft.common_args).
        mode = CheckpointUploadMode.ASYNC if self.upload == "async" else CheckpointUploadMode.SYNC
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(str(folder)),
                         checkpoint_dir_name=f"checkpoint-{state.global_step:06d}", checkpoint_upload_mode=mode,
                         delete_local_checkpoint_after_upload=self.upload == "async")


class FaultDrill(_trainer_callback_base()):
    """`train.fail_at_step=N` (N a checkpoint step): fail every worker right after step N's checkpoint is stored,
    as a killed job would."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        # Only at step N itself: a run resumed from N (or restarted by Ray with max_failures) then goes on.
        if state.global_step == self.step:
            raise RuntimeError(f"train.fail_at_step={self.step}: fault drill after step {state.global_step}")
