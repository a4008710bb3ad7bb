"""Compose and validate the Hydra config of a run.

`conf/` describes a whole run; `load_config` composes it with `key=value` overrides, then `validate` checks the
values the code relies on, so a typo fails before any model loads, with the field, the value and the file named.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

STAGES = ("problems", "signatures", "dedup", "solutions", "tests", "executions", "verification", "soft", "repair",
          "repair_executions", "sft", "dpo")


class ConfigError(ValueError):
    """A config value or override is wrong; the message names it."""


def conf_dir() -> Path:
    """conf/ beside the package (editable installs, Ray job working_dir), or $FACTORY_CONF_DIR."""
    env = os.environ.get("FACTORY_CONF_DIR")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "conf"
    if not (path / "config.yaml").exists():
        raise ConfigError(f"config.yaml not found in {path}; set FACTORY_CONF_DIR to the project's conf/ folder")
    return path


def _presets(group: str) -> set[str]:
    return {p.stem for p in (conf_dir() / group).glob("*.yaml")}


def _map_model_path(overrides: list[str]) -> list[str]:
    """`model=/a/folder` (not a preset name) means `model=local model.path=/a/folder`."""
    out = []
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "model" and value and value not in _presets("model"):
            out += ["model=local", f"model.path={value}"]
        else:
            out.append(item)
    return out


# Commands where `verify.tau < 1` or a rejected strategy alone means the relaxed rule (README: the `factory verify`
# form takes `[verify.tau=..] [verify.rejected=..]` and no rule); elsewhere the rule is said, never guessed.
IMPLIES_RELAXED = ("verify",)


def load_config(overrides: list[str] | None = None, command: str | None = None) -> DictConfig:
    """Compose conf/ with `key=value` overrides and validate it; `command` is the CLI command it is for."""
    overrides = _map_model_path(list(overrides or []))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value")
    try:
        with initialize_config_dir(str(conf_dir()), version_base="1.3"):
            cfg = compose("config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"bad override in {overrides}: {err}") from err
    explicit_rule = any(o.split("=", 1)[0].lstrip("+~") == "verify.rule" for o in overrides)
    validate(cfg, imply_relaxed=command in IMPLIES_RELAXED and not explicit_rule)
    return cfg


def _check(ok: bool, field: str, value, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{field}={value!r}: expected {expected} (conf/config.yaml or a key=value override)")


def _positive_int(cfg, field: str) -> None:
    value = OmegaConf.select(cfg, field)
    _check(isinstance(value, int) and not isinstance(value, bool) and value > 0, field, value, "a positive integer")


def validate(cfg: DictConfig, imply_relaxed: bool = False) -> None:
    for field in ("num_problems", "shard_size", "generate.num_solutions", "generate.num_inputs",
                  "generate.num_outputs", "verify.num_tests"):
        _positive_int(cfg, field)
    _check(cfg.executor in ("local", "ray"), "executor", cfg.executor, "local or ray")
    _check(cfg.from_stage is None or cfg.from_stage in STAGES, "from_stage", cfg.from_stage, f"one of {STAGES}")
    styles = list(cfg.generate.styles)
    known = {p.stem.removeprefix("problem_") for p in (Path(__file__).parent / "prompts").glob("problem_*.txt")}
    _check(bool(styles) and set(styles) <= known, "generate.styles", styles, f"a non-empty subset of {sorted(known)}")
    _check(cfg.verify.rule in ("strict", "relaxed"), "verify.rule", cfg.verify.rule, "strict or relaxed")
    tau = cfg.verify.tau
    _check(isinstance(tau, (int, float)) and 0 < tau <= 1, "verify.tau", tau, "a number in (0, 1]")
    _check(cfg.verify.rejected in ("random", "lowest", "median"), "verify.rejected", cfg.verify.rejected,
           "random, lowest or median")
    if cfg.verify.rule == "strict" and (tau < 1 or cfg.verify.rejected != "random"):
        if not imply_relaxed:
            # Strict rejects every failing solution and has no threshold: a tau or a strategy would silently do nothing.
            key, value = ("verify.tau", tau) if tau < 1 else ("verify.rejected", cfg.verify.rejected)
            raise ConfigError(f"{key}={value!r} has no effect under verify.rule=strict: set verify.rule=relaxed "
                              f"(or leave {key} at its default)")
        logging.getLogger(__name__).warning("verify.tau=%s, verify.rejected=%s: using verify.rule=relaxed",
                                            tau, cfg.verify.rejected)
        cfg.verify.rule = "relaxed"
    share = cfg.verify.max_same_output
    _check(isinstance(share, (int, float)) and 0 < share <= 1, "verify.max_same_output", share, "a number in (0, 1]")
    soft = cfg.verify.soft
    _check(soft.low <= soft.high, "verify.soft.low", soft.low, f"<= verify.soft.high ({soft.high})")
    for field in ("verify.soft.samples", "verify.soft.votes", "repair.attempts", "repair.max_feedback_tests"):
        _positive_int(cfg, field)
    _check(soft.votes <= soft.samples, "verify.soft.votes", soft.votes, f"<= verify.soft.samples ({soft.samples})")
    for field in ("verify.soft.enabled", "repair.enabled"):
        value = OmegaConf.select(cfg, field)
        _check(isinstance(value, bool), field, value, "true or false")
    # On a cluster every node writes shards under run_dir: a relative path would be each node's own folder.
    _check(not cfg.cluster.address or Path(str(cfg.run_dir)).is_absolute() or "://" in str(cfg.run_dir),
           "run_dir", cfg.run_dir, "an absolute path on storage every node mounts when joining a cluster")
    if cfg.model.source == "local":
        path = cfg.model.path
        _check(bool(path) and (Path(str(path)) / "config.json").exists(), "model.path", path,
               "a Hugging Face model folder with config.json")
    for field in [f"generate.{role}" for role in ("problem", "signature", "solution", "test_inputs", "test_output")] \
            + ["verify.soft", "repair"]:
        t = OmegaConf.select(cfg, f"{field}.temperature")
        _check(isinstance(t, (int, float)) and t >= 0, f"{field}.temperature", t, "a number >= 0")
        structured = OmegaConf.select(cfg, f"{field}.structured", default=False)
        _check(isinstance(structured, bool), f"{field}.structured", structured, "true or false")


def save_config(cfg: DictConfig, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
