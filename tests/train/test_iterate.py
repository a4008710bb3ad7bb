"""`factory iterate` end to end: generate -> verify -> SFT -> DPO, twice, each model the next one's generator.

Generation talks to the scripted "competent model" (tests/scripted_model.py, over the OpenAI API) because no model
that runs here writes code that agrees with its own tests, and with no agreeing pairs there is nothing to train on.
Everything else is real: the pipeline, the sandbox, verification with the earlier iteration's suites, and SFT/DPO
of the tiny model on 2 Ray Train workers. A recording proxy in front of the scripted server keeps the model each
request named, which shows that iteration 1 asked for iteration 0's trained model.
"""

import json
import subprocess
import sys
import threading
from pathlib import Path
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from omegaconf import OmegaConf

BANK = Path(__file__).resolve().parents[1] / "eval" / "data" / "mbpp-bank.jsonl"


@pytest.fixture
def recording_proxy(scripted_server):
    """Forwards to the scripted server and records the `model` each chat request named."""
    models = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            models.append(json.loads(body).get("model"))
            upstream = scripted_server.url.removesuffix("/v1") + self.path
            req = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=120) as resp:
                data = resp.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", models
    httpd.shutdown()


@pytest.mark.slow
def test_iterate_two_iterations_each_model_generates_the_next(tmp_path, recording_proxy):
    url, models = recording_proxy
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "factory.cli", "iterate", "iterations=2", "model=tiny", "num_problems=8",
           f"run_dir={run_dir}", "llm=openai", f"llm.base_url={url}", "llm.api_key_env=null",
           "shard_size=4", "train.num_workers=2", "train.batch_size=2", "train.sft.lr=1e-3", "train.dpo.lr=1e-3",
           # every checkpoint evaluated on two of the scripted model's own problems, through the same server
           "eval.benchmarks=[mbpp]", f"eval.data_paths.mbpp={BANK}", "eval.num_samples=2", "eval.k=[1]",
           "eval.mutants=1", "eval.num_inputs=4", "eval.max_gold_tests=2"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, out.stderr[-4000:]

    it0, it1 = (json.loads((run_dir / f"iter_{i}" / "iteration.json").read_text()) for i in (0, 1))
    model0 = run_dir / "iter_0" / "model"
    # Iteration 0 trained SFT then DPO from the tiny preset; its DPO output is model 1 ...
    assert sum(it0["sft_rows"].values()) > 0 and sum(it0["dpo_rows"].values()) > 0
    assert it0["train"]["sft"]["steps"] > 0 and it0["train"]["dpo"]["steps"] > 0
    assert it0["next_model"] == str(model0) and (model0 / "config.json").exists()
    # ... which generated iteration 1 and was the starting point of its SFT.
    assert it1["generator"] == str(model0)
    assert OmegaConf.load(run_dir / "iter_1" / "config.yaml").model.path == str(model0)
    assert str(model0) in models and models[0] != str(model0)  # iteration 1's requests named model 1
    # Evaluation asked each checkpoint by its folder: base, SFT and DPO of both iterations.
    sft0, sft1 = (str(run_dir / f"iter_{i}" / "train" / "sft" / "model") for i in (0, 1))
    assert {sft0, sft1, str(run_dir / "iter_1" / "model")} <= set(models)
    assert it1["next_model"] == str(run_dir / "iter_1" / "model")
    # Same problems in both iterations, verified against iteration 0's suites; the paper's per-iteration figures.
    assert it1["vs_previous"]["common_problems"] == it0["problems"] > 0
    assert it1["vs_previous"]["test_pairs"] > 0 and 0 <= it1["vs_previous"]["same_expected"] <= 1
    for it in (it0, it1):
        assert 0 < it["agreement_rate"] <= 1
        assert it["execution_status"] and abs(sum(it["execution_status"].values()) - 1) < 1e-3
    assert json.loads((run_dir / "iterations.json").read_text())[1]["iteration"] == 1
    assert list(run_dir.glob("wandb/offline-run-*/run-*.wandb"))

    # Table 1: five checkpoints. The script predicts every output right except on the 4th time it is asked the
    # same prompt (tests/scripted_model.py: index % 4 == 3), so iteration 1's SFT model, the 4th checkpoint
    # evaluated, gets every gold output wrong; the others get them all right (same_literal with the gold).
    evaluated = json.loads((run_dir / "eval" / "iterations.json").read_text())
    rows = evaluated["checkpoints"]
    assert [r["label"] for r in rows] == ["base", "iter_0_sft", "iter_0_dpo", "iter_1_sft", "iter_1_dpo"]
    assert not any(r.get("same_as") for r in rows) and evaluated["code_prompts"] == {"mbpp": "mbpp_prompt=three_shot"}
    acc = [r["metrics"]["mbpp"]["output_accuracy"] for r in rows]
    assert [a["value"] for a in acc] == [1.0, 1.0, 1.0, 0.0, 1.0] and {a["count"] for a in acc} == {4}
    assert [r["metrics"]["mbpp"]["testgen_case_pass_rate"]["value"] for r in rows] == [1.0, 1.0, 1.0, 0.0, 1.0]
    assert [(p["a"], p["b"], p["metrics"]["agreement"]["value"]) for p in evaluated["agreement"]] == [
        ("base", "iter_0_dpo", 1.0), ("iter_0_dpo", "iter_1_dpo", 1.0)]
    assert set(evaluated["execution_outcomes"]) == {"iter_0", "iter_1"}
    assert "| iter_1_sft | 0.000 | 0.000 | 0.000 |" in (run_dir / "eval" / "iterations.md").read_text()
    assert (run_dir / "report" / "iterations.png").exists() and (run_dir / "report" / "execution_outcomes.png").exists()

    # A rerun finds every iteration and every evaluation complete and does nothing.
    before = [(run_dir / p).stat().st_mtime for p in ("iter_1/iteration.json", "eval/iter_1_dpo/mbpp.json")]
    requests = len(models)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    assert [(run_dir / p).stat().st_mtime for p in ("iter_1/iteration.json", "eval/iter_1_dpo/mbpp.json")] == before
    assert len(models) == requests

@pytest.mark.slow
def test_iterate_tiny_hf_completes_when_nothing_agrees(tmp_path):
    """The README form on the random tiny model (hf backend): no agreeing pairs, so training is skipped with a
    reason and the model carries over; the loop still completes and reports every iteration."""
    run_dir = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "factory.cli", "iterate", "iterations=2", "model=tiny",
                          "num_problems=4", f"run_dir={run_dir}", "wandb.enabled=false", "eval.limit=1",
                          "eval.num_samples=0", "eval.mutants=0", "eval.max_tokens=16", "eval.output_max_tokens=16",
                          "eval.num_inputs=2", "eval.max_gold_tests=1"],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-4000:]
    reports = json.loads((run_dir / "iterations.json").read_text())
    assert [r["iteration"] for r in reports] == [0, 1]
    for r in reports:
        assert r["train"] == {"sft": {"skipped": "no sft rows"}, "dpo": {"skipped": "no dpo rows"}}
        assert r["next_model"] is None and r["generator"] == "preset:tiny"
    assert "vs_previous" in reports[1] and (run_dir / "iter_1" / "_meta" / "verification" / "SUCCESS").exists()
    # The model never changed: the base model is evaluated once, every checkpoint row points to it.
    rows = json.loads((run_dir / "eval" / "iterations.json").read_text())["checkpoints"]
    assert [r.get("same_as") for r in rows] == [None, "base", "base", "base", "base"]
    assert rows[0]["metrics"]["humaneval"]["greedy_pass@1"]["count"] == 1
    assert sorted(p.name for p in (run_dir / "eval").iterdir() if p.is_dir()) == ["base"]
