"""`factory <command> [positional ...] [key=value ...]`: compose the Hydra config, dispatch, nothing else.

Commands and the module whose `main(cfg, args) -> int` runs them:
  generate                       factory.pipeline          the Sol-Ver generation pipeline
  sandbox CASES.jsonl            factory.sandbox.cli       run solutions against tests, print verdicts
  verify INPUT.jsonl|.parquet    factory.verify.cli        cross-verify your own candidates
  train sft|dpo                  factory.train.cli         SFT or DPO with Ray Train + TRL
  iterate                        factory.train.iterate     generate -> verify -> train, N times
  evaluate                       factory.eval.cli          pass@k, test-output accuracy, false positives, ranking
  stats RUN_DIR                  factory.report.stats      per-stage and per-shard figures, plots
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

COMMANDS = {
    "generate": "factory.pipeline",
    "sandbox": "factory.sandbox.cli",
    "verify": "factory.verify.cli",
    "train": "factory.train.cli",
    "iterate": "factory.train.iterate",
    "evaluate": "factory.eval.cli",
    "stats": "factory.report.stats",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0 if argv else 2
    from factory.config import ConfigError, load_config
    from factory.executors import ShardFailed

    command, rest = argv[0], argv[1:]
    args = [a for a in rest if "=" not in a]
    try:
        cfg = load_config([a for a in rest if "=" in a], command=command)
        setup_logging(cfg.get("log_level") or "warning")
        return int(importlib.import_module(COMMANDS[command]).main(cfg, args) or 0)
    except (ConfigError, OSError, ValueError, ShardFailed) as err:
        # Bad input is the user's to fix, a failed shard names its log: one clear line, no traceback
        # (FACTORY_DEBUG=1 shows it).
        if os.environ.get("FACTORY_DEBUG"):
            raise
        print(f"factory {command}: error: {err}", file=sys.stderr)
        return 1 if isinstance(err, ShardFailed) else 2


LEVELS = ("debug", "info", "warning", "error")


def setup_logging(level: str) -> None:
    """Our loggers and Ray's console output at `log_level` (warning by default: the console shows progress
    lines instead; info or debug bring back every library's messages, with timestamps)."""
    from factory.config import ConfigError

    if str(level).lower() not in LEVELS:
        raise ConfigError(f"log_level={level!r}: expected one of {', '.join(LEVELS)} (conf/config.yaml or "
                          f"a key=value override)")
    quiet = str(level).lower() in ("warning", "error")
    fmt = "%(levelname)s: %(message)s" if quiet else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=getattr(logging, str(level).upper()), format=fmt, force=True)


if __name__ == "__main__":
    sys.exit(main())
