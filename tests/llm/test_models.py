"""resolve_model: the tiny preset builds offline, deterministically, once under concurrency; errors name the path."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from factory.llm.models import cache_root, resolve_model

RACE = "import sys; from factory.llm.models import resolve_model; " \
       "print(resolve_model({'source': 'tiny', 'cache_dir': sys.argv[1]}))"


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_tiny_builds_offline_once_and_deterministically(tiny_path, tmp_path, monkeypatch):
    # Two processes race for the same cache: the lock makes one build and the other reuse the result.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    racers = [subprocess.Popen([sys.executable, "-c", RACE, str(tmp_path)], stdout=subprocess.PIPE, text=True)
              for _ in range(2)]
    paths = {p.communicate(timeout=300)[0].strip() for p in racers}
    assert all(p.returncode == 0 for p in racers)
    assert len(paths) == 1
    built = Path(paths.pop())
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [built.name]  # no temp folder left behind
    # Same bytes as the session's build in another process: weights and tokenizer are seeded, not random.
    assert digest(built) == digest(Path(tiny_path))
    config = json.loads((built / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (64, 2, 4)
    assert 2000 <= config["vocab_size"] <= 4096


def test_tiny_tokenizer_round_trips_code_and_speaks_chatml(tiny_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_path)
    code = "def f(x: list[int]) -> int:\n    return sum(v for v in x if v % 2)  # ünïcode ok\n"
    assert tok.decode(tok(code)["input_ids"]) == code
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert (tok.eos_token, tok.pad_token) == ("<|im_end|>", "<|endoftext|>")
    model = AutoModelForCausalLM.from_pretrained(tiny_path)
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert model.config.pad_token_id == tok.pad_token_id


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_CACHE", str(tmp_path / "env"))
    assert cache_root({"cache_dir": str(tmp_path / "cfg")}) == tmp_path / "cfg"
    assert cache_root({"cache_dir": None}) == tmp_path / "env"
    monkeypatch.delenv("FACTORY_CACHE")
    assert cache_root({}) == Path("~/.cache/factory/models").expanduser()


def test_local_folder_is_validated(tiny_path, tmp_path):
    assert resolve_model({"source": "local", "path": tiny_path}) == str(Path(tiny_path).resolve())
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        resolve_model({"source": "local", "path": str(tmp_path / "nowhere")})
    with pytest.raises(FileNotFoundError, match="no config.json"):
        resolve_model({"source": "local", "path": str(tmp_path)})
    with pytest.raises(ValueError, match="model.path"):
        resolve_model({"source": "local", "path": None})


def test_hub_id_offline_is_a_clear_error_and_online_passes_through(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="Qwen/Qwen2.5-Coder-7B-Instruct.*HF_HUB_OFFLINE"):
        resolve_model({"source": "hub", "path": "Qwen/Qwen2.5-Coder-7B-Instruct"})
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert resolve_model({"source": "hub", "path": "Qwen/Qwen2.5-Coder-7B-Instruct"}) == \
        "Qwen/Qwen2.5-Coder-7B-Instruct"


def test_unknown_source_is_named():
    with pytest.raises(ValueError, match="model.source='ollama'"):
        resolve_model({"source": "ollama"})


@pytest.mark.slow
def test_smollm2_resolves_from_the_package_and_answers():
    """Converts the GGUF once into the user's cache (~20-30 s, 517 MB), then loads the folder like any model."""
    from factory.llm import Sampling, make_llm

    path = resolve_model({"source": "gguf_package", "cache_dir": None})
    assert (Path(path) / "config.json").is_file()
    llm = make_llm({"backend": "hf", "batch_size": 2}, {"source": "gguf_package", "cache_dir": None})
    [[reply]] = llm.generate([[{"role": "user", "content": "What is the capital of France? One word."}]],
                             Sampling(max_tokens=12))
    assert "paris" in reply.lower()
