"""Every YAML under conf/ composes, and bad input fails early with the field or file named."""

import subprocess
import sys
from pathlib import Path

import pytest

from factory.config import ConfigError, conf_dir, load_config

GROUPS = sorted(p for p in conf_dir().iterdir() if p.is_dir())


@pytest.mark.parametrize("option", [f"{g.name}={y.stem}" for g in GROUPS for y in sorted(g.rglob("*.yaml"))])
def test_every_yaml_composes(option, tmp_path):
    extra = []
    if option == "model=local":
        (tmp_path / "config.json").write_text("{}")
        extra = [f"model.path={tmp_path}"]
    if option == "seeds=file":
        extra = ["seeds.path=/data/x.jsonl"]   # required (???) and only read when seeds are collected
    if option == "cluster=remote":
        extra = ["run_dir=/shared/runs/r1"]    # joining a cluster needs a run_dir every node mounts (absolute)
    cfg = load_config([option, *extra])
    assert cfg[option.split("=")[0]] is not None


def test_bad_values_name_the_field():
    for override, field in [("num_problems=abc", "num_problems"), ("executor=gpu", "executor"),
                            ("verify.tau=1.5", "verify.tau"), ("from_stage=nope", "from_stage"),
                            ("generate.styles=[poetry]", "generate.styles"), ("model=/no/such/dir", "model.path"),
                            ("not_a_key=1", "not_a_key")]:
        with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
            load_config([override])


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "factory.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_cli_rejects_missing_seed_file_and_bad_override(tmp_path):
    out = _cli("generate", "seeds=file", f"seeds.path={tmp_path}/missing.jsonl", "model=tiny", "executor=local",
               f"run_dir={tmp_path}/run")
    assert out.returncode == 2 and f"{tmp_path}/missing.jsonl" in out.stderr and "Traceback" not in out.stderr
    out = _cli("generate", "num_problems=-3")
    assert out.returncode == 2 and "num_problems" in out.stderr
    assert _cli("frobnicate").returncode == 2


def test_seed_file_rows_are_used(tmp_path):
    from factory.stages.seeds import collect_seeds

    path = tmp_path / "seeds.jsonl"
    path.write_text('{"code": "def f(x):\\n    return x + 1"}\n\n{"code": "x = [i * i for i in range(9)]"}\n')
    cfg = load_config(["seeds=file", f"seeds.path={path}"])
    table = collect_seeds(cfg.seeds, 5, 0)
    assert sorted(table.column("seed").to_pylist()) == ["def f(x):\n    return x + 1", "x = [i * i for i in range(9)]"]
    path.write_text('{"code": "a"}\n{not json\n')
    with pytest.raises(ValueError, match=r"seeds.jsonl:2"):
        collect_seeds(cfg.seeds, 5, 0)


@pytest.mark.parametrize("overrides,command,key", [
    (["verify.rejected=lowest"], "generate", "verify.rejected"),
    (["verify.rule=strict", "verify.rejected=median"], "generate", "verify.rejected"),
    (["verify.tau=0.8"], "generate", "verify.tau"),
    (["verify.rule=strict", "verify.rejected=lowest"], "verify", "verify.rejected"),   # said strict: never guessed
])
def test_a_strategy_or_tau_under_the_strict_rule_is_an_error_naming_both_keys(overrides, command, key):
    with pytest.raises(ConfigError, match=rf"{key.replace('.', '[.]')}=.*verify[.]rule=strict"):
        load_config(overrides, command=command)


def test_factory_verify_reads_a_strategy_or_tau_alone_as_the_relaxed_rule():
    """The README form `factory verify IN run_dir=D [verify.tau=..] [verify.rejected=..]` names no rule."""
    assert load_config(["verify.rejected=median"], command="verify").verify.rule == "relaxed"
    assert load_config(["verify.tau=0.7"], command="verify").verify.rule == "relaxed"
    assert load_config(["verify.rule=relaxed", "verify.rejected=lowest"]).verify.rule == "relaxed"
    assert load_config([], command="verify").verify.rule == "strict"
