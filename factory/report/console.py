"""What `factory generate` shows a person while it runs: a line per stage as it starts, then per-stage progress.

On a terminal each stage gets a live tqdm bar: shards done/total, rows in -> out, drops so far by top reason,
rows/s (tokens/s where a stage reports a `tokens` metric) and an ETA. On anything else (CI, `ray job logs`, a file)
it prints one plain line per finished shard instead, so logs stay readable. The figures are the shard stats the
executors hand over (the dict `write_shard` returns), the same records W&B gets and `factory stats` reads back.

Assumption: shards of one stage cost about the same, so the ETA is the mean seconds per finished shard times
the shards left (wall time since the stage's first report, which includes queueing behind other stages).
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from tqdm import tqdm


class _Stage:
    def __init__(self, name: str, total: int):
        self.name, self.total, self.done, self.skipped = name, total, 0, 0
        self.rows_in = self.rows_out = self.tokens = 0
        self.drops: Counter = Counter()
        self.start = time.monotonic()
        self.bar = None

    def add(self, stats: dict) -> None:
        self.done += 1
        self.skipped += bool(stats.get("skipped"))
        self.rows_in += stats["rows_in"]
        self.rows_out += stats["rows_out"]
        self.drops.update(stats["dropped"])
        self.tokens += (stats.get("metrics") or {}).get("tokens", 0) or 0

    def figures(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        top = ", ".join(f"{k}={v}" for k, v in self.drops.most_common(2)) or "-"
        rate = f"{self.tokens / elapsed:.0f} tok/s" if self.tokens else f"{self.rows_in / elapsed:.1f} rows/s"
        left = self.total - self.done
        eta = f"eta {elapsed / self.done * left:.0f}s" if self.done and left else "done" if not left else "eta ?"
        return f"rows {self.rows_in} -> {self.rows_out}  dropped {top}  {rate}  {eta}"


class Console:
    """Progress of one `factory generate` run. `on_shard` (e.g. the live W&B logger) gets every shard's stats
    after the console has shown them."""

    def __init__(self, stream=None, interactive: bool | None = None, on_shard=None):
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.on_shard = on_shard
        self.stages: dict[str, _Stage] = {}

    def say(self, text: str) -> None:
        if self.interactive and any(s.bar is not None for s in self.stages.values()):
            tqdm.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def stage_started(self, name: str, total: int) -> None:
        stage = self.stages[name] = _Stage(name, total)
        self.say(f"[{name}] started: {total} shard{'s' * (total != 1)}")
        if self.interactive:
            stage.bar = tqdm(total=total, desc=f"{name:>12}", unit="shard", file=self.stream,
                             position=len(self.stages) - 1, leave=True, dynamic_ncols=True)

    def shard_done(self, stats: dict) -> None:
        stage = self.stages.get(stats["stage"]) or _Stage(stats["stage"], 0)
        self.stages.setdefault(stage.name, stage)
        stage.add(stats)
        if stage.bar is not None:
            stage.bar.set_postfix_str(stage.figures(), refresh=False)
            stage.bar.update(1)
        else:
            drops = ", ".join(f"{k}={v}" for k, v in sorted(stats["dropped"].items())) or "-"
            note = " (done earlier)" if stats.get("skipped") else ""
            self.say(f"[{stage.name}] {stats['shard']} {stage.done}/{stage.total}: {stats['rows_in']} in, "
                     f"{stats['rows_out']} out, dropped {drops}, {stats['seconds']:.1f}s{note} | {stage.figures()}")
        if self.on_shard:
            self.on_shard(stats)

    def close(self) -> None:
        for stage in self.stages.values():
            if stage.bar is not None:
                stage.bar.close()
                stage.bar = None


def summary_text(summary: dict, run_dir) -> str:
    """The per-stage table of a finished run, where its data is, and what to do next."""
    from factory.report.stats import table

    rows = []
    for name, s in summary.items():
        drops = ", ".join(f"{k}={v}" for k, v in sorted(s["dropped"].items(), key=lambda kv: -kv[1])) or "-"
        rows.append([name, s["shards"], s["rows_in"], s["rows_out"], s["seconds"], drops])
    lines = [table(["stage", "shards", "in", "out", "seconds", "dropped"], rows), "",
             f"outputs in {run_dir}: a folder of Parquet shards per stage; sft/ and dpo/ are the training rows",
             f"next: factory stats {run_dir}   |   factory train sft data={run_dir}/sft model=MODEL run_dir=DIR"]
    return "\n".join(lines)
