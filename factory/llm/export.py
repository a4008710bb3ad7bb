"""A Hugging Face model folder -> an OpenVINO IR folder (`llm=openvino`), exported once and cached.

The exporter is optimum-intel, which pins transformers < 5.6 while the project runs transformers 5.x, so it
cannot live in the project's environment. It gets a virtual environment of its own, built once per machine:

  ~/.cache/factory/ov-export-venv-<ENV_VERSION> (or `llm.export_env`)
    torch        symlinked from the running interpreter (no second torch download; a CUDA build stays one)
    optimum-intel[openvino] with openvino / openvino-tokenizers pinned to the versions installed here, so the IR
                 it writes is the one the runtime (openvino-genai) reads; torchvision removed (optimum-intel
                 requires it, but its PyPI wheel does not load against a +cpu torch and text models never use it)

Measured on 2 cores with a local wheel mirror: 25 s and 794 MB for the environment; SmolLM2-135M exports in
14-17 s (fp16 265 MB, int8 138 MB). Both are built under a file lock, the export into a temporary folder
renamed into place, so many Ray workers may ask at once and one builds.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import logging
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from factory.llm.models import _build_once, _file_lock

log = logging.getLogger(__name__)

ENV_VERSION = "v1"       # bump when the recipe below changes: a new folder, never a half-upgraded one
EXPORT_VERSION = "v1"    # part of every export's folder name
OPTIMUM_INTEL = "optimum-intel[openvino]>=2.2,<2.3"
# int4 is left out on purpose: optimum's default group size (128) fails on SmolLM2's 576-wide layers and group
# size 64 broke its replies (25% define the asked function; docs/perf/llm_cpu.md).
WEIGHT_FORMATS = ("fp32", "fp16", "int8")


def default_env_dir() -> Path:
    return Path(f"~/.cache/factory/ov-export-venv-{ENV_VERSION}").expanduser()


def export_openvino(hf_folder: str, weight_format: str, cache: Path, env_dir: Path | None = None) -> Path:
    """The IR folder for `hf_folder` at `weight_format`, exported on first use into `cache`."""
    if weight_format not in WEIGHT_FORMATS:
        raise ValueError(f"llm.weight_format={weight_format!r} is not one of {', '.join(WEIGHT_FORMATS)}")
    source = Path(hf_folder)
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"{hf_folder}: not a local Hugging Face folder (no config.json) to export")
    target = cache / f"{source.name}-{_fingerprint(source)}-ov-{weight_format}-{EXPORT_VERSION}"
    return _build_once(target, lambda out: _export(source, weight_format, out, env_dir or default_env_dir()))


def _fingerprint(folder: Path) -> str:
    # The folder's path, and the size and mtime of its config and weights: a model retrained in place (the
    # same output folder of `factory train`) gets a new export instead of the stale one.
    h = hashlib.sha1(str(folder.resolve()).encode())
    for f in sorted(folder.iterdir()):
        if f.name == "config.json" or f.suffix in (".safetensors", ".bin"):
            stat = f.stat()
            h.update(f"{f.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:10]


def _export(source: Path, weight_format: str, out: Path, env_dir: Path) -> None:
    python = ensure_export_env(env_dir)
    cmd = [str(python), "-m", "optimum.commands.optimum_cli", "export", "openvino", "--model", str(source),
           "--task", "text-generation-with-past", "--weight-format", weight_format, str(out)]
    log.info("exporting %s to OpenVINO (%s): %s", source, weight_format, " ".join(cmd))
    env = dict(os.environ, HF_HUB_OFFLINE="1")  # a local folder: never reach for the hub
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not (out / "openvino_model.xml").is_file():
        tail = (done.stdout + done.stderr)[-3000:]
        raise RuntimeError(f"OpenVINO export of {source} ({weight_format}) failed, exit {done.returncode}:\n{tail}")


def ensure_export_env(env_dir: Path) -> Path:
    """Build the exporter's environment once (see the module docstring); return its python."""
    python = env_dir / "bin" / "python"
    marker = env_dir / ".complete"  # written last: an environment without it is rebuilt from scratch
    if marker.is_file():
        return python
    with _file_lock(env_dir.with_name(env_dir.name + ".lock")):
        if marker.is_file():
            return python
        shutil.rmtree(env_dir, ignore_errors=True)
        # Built in place, not renamed: a venv's scripts name its own path.
        venv.EnvBuilder(with_pip=True, symlinks=True).create(env_dir)
        site = Path(subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
        _link_torch(site)
        constraints = env_dir / "constraints.txt"
        constraints.write_text("".join(f"{name}=={metadata.version(name)}\n"
                                       for name in ("torch", "openvino", "openvino-tokenizers")))
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
        _run(pip + ["install", "--only-binary=:all:", "-c", str(constraints), OPTIMUM_INTEL])  # never compile
        _run(pip + ["uninstall", "-y", "torchvision"])
        marker.write_text(sys.version)
    return python


def _link_torch(site: Path) -> None:
    dist = metadata.distribution("torch")
    tops = {str(f).split("/")[0] for f in dist.files or []} - {".."}
    for top in sorted(tops):
        real = Path(dist.locate_file(top))
        if real.exists():
            (site / top).symlink_to(real)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the OpenVINO export environment failed: {' '.join(cmd)}\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")


if __name__ == "__main__":  # python -m factory.llm.export [FORMAT]: the default model's export, made now
    from factory.llm.models import cache_root, resolve_model

    smollm2 = {"source": "gguf_package"}
    print(export_openvino(resolve_model(smollm2), sys.argv[1] if len(sys.argv) > 1 else "fp16", cache_root(smollm2)))
