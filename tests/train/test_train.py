"""SFT and DPO on 2 Ray Train workers with the tiny model: DDP, parameter updates, reloads, resume.

Few and fat: each fit() costs ~30-45 s here, so one uninterrupted SFT run (module fixture) feeds most checks.
Data: real rows built from HumanEval (factory.train.data.write_humaneval_demo).
"""

import json
from pathlib import Path

import pytest
import torch

from factory.config import load_config
from factory.train import cli, data

ROWS = 24  # 2 workers x batch 2 -> 6 steps per epoch: checkpoints at 2, 4, 6


def overrides(run_dir, data_dir, *extra):
    return [f"data={data_dir}", "model=tiny", f"run_dir={run_dir}", "train.num_workers=2",
            "train.batch_size=2", "train.save_steps=2", "train.sft.lr=1e-3", "train.dpo.lr=1e-3", *extra]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return {k: data.write_humaneval_demo(root / k, k, ROWS) for k in ("sft", "dpo")}


@pytest.fixture(scope="module")
def sft_run(ray_local, demo, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("sft")
    assert cli.main(load_config(overrides(run_dir, demo["sft"], "wandb.enabled=true")), ["sft"]) == 0
    out = cli.out_dir(run_dir, "sft")
    ranks = [json.loads((out / "ranks" / f"rank_{r}.json").read_text()) for r in (0, 1)]
    return {"out": out, "ranks": ranks, "metrics": json.loads((out / "metrics.json").read_text())}


def test_ddp_two_ranks_split_the_data_and_stay_equal(sft_run):
    r0, r1 = sft_run["ranks"]
    assert (r0["rank"], r1["rank"], r0["world_size"], r1["world_size"]) == (0, 1, 2, 2)
    # Both ranks trained, on disjoint halves of the one epoch, that together cover every row.
    assert len(r0["examples"]) == len(r1["examples"]) == ROWS // 2
    assert not set(r0["examples"]) & set(r1["examples"])
    assert len(set(r0["examples"]) | set(r1["examples"])) == ROWS
    assert r0["param_sha256"] == r1["param_sha256"]  # all-reduced gradients kept the replicas identical
    m = sft_run["metrics"]
    assert m["steps"] == 6 and m["world_size"] == 2 and m["final_loss"] < m["first_loss"]
    # W&B ran offline on rank 0 only.
    assert len(list((sft_run["out"] / "wandb").glob("offline-run-*/run-*.wandb"))) == 1


def test_every_trainable_parameter_changed(sft_run):
    from transformers import AutoModelForCausalLM

    from factory.llm.models import resolve_model

    before = dict(AutoModelForCausalLM.from_pretrained(resolve_model({"source": "tiny"})).named_parameters())
    after = dict(AutoModelForCausalLM.from_pretrained(sft_run["out"] / "model").named_parameters())
    assert before.keys() == after.keys()
    unchanged = [n for n in before if torch.equal(before[n], after[n])]
    assert not unchanged


def test_saved_model_and_checkpoint_reload_to_identical_logits(sft_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    probe = torch.load(sft_run["out"] / "ranks" / "probe.pt")
    last_checkpoint = Path(sft_run["metrics"]["checkpoint"])
    assert last_checkpoint.name == "checkpoint-000006"
    for folder in (sft_run["out"] / "model", last_checkpoint):
        model = AutoModelForCausalLM.from_pretrained(folder).eval()
        AutoTokenizer.from_pretrained(folder)  # the tokenizer travels with the weights
        with torch.no_grad():
            logits = model(input_ids=probe["input_ids"]).logits
        assert torch.equal(logits, probe["logits"]), folder


def test_killed_run_resumes_to_the_same_loss(sft_run, demo, tmp_path):
    cfg = load_config(overrides(tmp_path, demo["sft"], "wandb.enabled=false"))
    with pytest.raises(Exception, match="fault drill"):
        cli.main(load_config(overrides(tmp_path, demo["sft"], "wandb.enabled=false", "train.fail_at_step=4",
                                       "train.checkpoint_upload=sync")),
                 ["sft"])
    assert not (cli.out_dir(tmp_path, "sft") / "metrics.json").exists()
    assert cli.main(cfg, ["sft"]) == 0
    resumed = json.loads((cli.out_dir(tmp_path, "sft") / "metrics.json").read_text())
    assert resumed["resumed_from_step"] == 4 and resumed["steps"] == 6
    history = json.loads((cli.out_dir(tmp_path, "sft") / "ranks" / "rank_0.json").read_text())["log_history"]
    reference = sft_run["ranks"][0]["log_history"]
    losses = lambda h: {x["step"]: x["loss"] for x in h if "loss" in x}  # noqa: E731
    # Steps 1-4 come back with the checkpoint's trainer state; 5 and 6 were trained again after the restart.
    assert sorted(losses(history)) == [1, 2, 3, 4, 5, 6]
    assert losses(history)[6] == pytest.approx(losses(reference)[6], rel=1e-6)
    assert losses(history)[5] == pytest.approx(losses(reference)[5], rel=1e-6)
    # A rerun of a completed run does no work and changes nothing.
    assert cli.main(cfg, ["sft"]) == 0


def test_dpo_with_lora_from_the_sft_model(sft_run, demo, tmp_path):
    from transformers import AutoModelForCausalLM

    sft_model = sft_run["out"] / "model"
    cfg = load_config(overrides(tmp_path, demo["dpo"], "wandb.enabled=false", "train.lora.enabled=true",
                                "train.lora.r=4", "train.save_steps=100") + [f"model={sft_model}"])
    assert cli.main(cfg, ["dpo"]) == 0
    out = cli.out_dir(tmp_path, "dpo")
    m = json.loads((out / "metrics.json").read_text())
    assert m["steps"] == 6 and m["roles"] == {"solver": 12, "verifier": 12}
    r0, r1 = (json.loads((out / "ranks" / f"rank_{r}.json").read_text()) for r in (0, 1))
    assert r0["param_sha256"] == r1["param_sha256"]
    # The adapter is merged: a plain model folder, every LoRA-targeted linear layer moved, embeddings untouched.
    before = dict(AutoModelForCausalLM.from_pretrained(sft_model).named_parameters())
    after = dict(AutoModelForCausalLM.from_pretrained(out / "model").named_parameters())
    assert before.keys() == after.keys()
    linear = [n for n in before if n.endswith("proj.weight")]
    assert linear and all(not torch.equal(before[n], after[n]) for n in linear)
    assert torch.equal(before["model.embed_tokens.weight"], after["model.embed_tokens.weight"])
    assert any("rewards/margins" in h for h in r0["log_history"])


def test_bad_data_is_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pytest.raises(data.DataError, match="no such folder"):
        data.load(tmp_path / "missing", "sft", None, 0)
    pq.write_table(pa.table({"role": ["solver"], "prompt": ["x"]}), tmp_path / "shard-00000.parquet")
    with pytest.raises(data.DataError, match=r"shard-00000.parquet: missing field\(s\) \['problem_id', 'completion'\]"):
        data.load(tmp_path, "sft", None, 0)


def test_bad_train_config_is_named(tmp_path):
    for override, message in (("train.num_workers=0", "train.num_workers=0"), ("train.sft.lr=-1", "train.sft.lr=-1"),
                              ("train.verifier_fraction=2", "train.verifier_fraction=2")):
        with pytest.raises(ValueError, match=message):
            cli.train(load_config([override]), "sft", tmp_path, tmp_path / "out")


def test_role_mixture(tmp_path):
    table = data.read_table(data.write_humaneval_demo(tmp_path, "sft", 20), "sft")
    assert data.role_counts(table) == {"solver": 10, "verifier": 10}
    assert data.role_counts(data.mix_roles(table, 0.2, 0)) == {"solver": 8, "verifier": 2}
    assert data.role_counts(data.mix_roles(table, 0.75, 0)) == {"solver": 3, "verifier": 10}
    assert data.role_counts(data.mix_roles(table, 0.0, 0)) == {"solver": 10, "verifier": 0}
    assert data.mix_roles(table, 0.5, 1).equals(data.mix_roles(table, 0.5, 1))  # same seed, same rows on every rank
    with pytest.raises(data.DataError, match="verifier_fraction"):
        data.mix_roles(table, 1.5, 0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bf16 autocast, NCCL)")
def test_sft_on_gpu(ray_local, demo, tmp_path):
    n = torch.cuda.device_count()
    cfg = load_config(overrides(tmp_path, demo["sft"], "wandb.enabled=false", "train.use_gpu=true",
                                f"train.num_workers={min(n, 2)}"))
    assert cli.main(cfg, ["sft"]) == 0
    m = json.loads((cli.out_dir(tmp_path, "sft") / "metrics.json").read_text())
    assert m["world_size"] == min(n, 2) and m["final_loss"] < m["first_loss"]


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs (FSDP over NCCL)")
def test_fsdp_sft_saves_a_whole_model_and_resumes(ray_local, demo, tmp_path):
    """FSDP shards on 2 GPUs: the final model is gathered into one plain folder that reloads, and the probe ran on
    the GPU (inputs on the model's device) without crashing the last step."""
    from transformers import AutoModelForCausalLM

    cfg = load_config(overrides(tmp_path, demo["sft"], "wandb.enabled=false", "train.use_gpu=true", "train.fsdp=true"))
    assert cli.main(cfg, ["sft"]) == 0
    out = cli.out_dir(tmp_path, "sft")
    m = json.loads((out / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["final_loss"] < m["first_loss"]
    model = AutoModelForCausalLM.from_pretrained(out / "model")
    assert model.dtype == torch.bfloat16
    probe = torch.load(out / "ranks" / "probe.pt")
    with torch.no_grad():
        assert torch.allclose(model(input_ids=probe["input_ids"]).logits.float(), probe["logits"], atol=1e-2)
