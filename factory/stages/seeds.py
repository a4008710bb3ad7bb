"""Seed snippets (OSS-Instruct style): 1-15 lines of real code that inspire a problem.

Sources: Python files on this machine (the standard library, the offline default), a local JSONL/Parquet file,
or a Hugging Face dataset (machines with hub access). Sampling is deterministic in `seed`.
"""

from __future__ import annotations

import ast
import hashlib
import random
import sysconfig
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory.jsonl import read_jsonl
from factory.schema import SEEDS
from factory.stages.base import Stage


class Seeds(Stage):
    """Source stage: has no input; the pipeline writes its rows as the first shards."""

    name = "seeds"
    schema = SEEDS


def _stable_id(*parts: str) -> str:
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:12]


def computes(fn: ast.FunctionDef, top_level: bool) -> bool:
    """A function that takes arguments and returns a value, not a method, generator or side effect: the seeds a
    small model turns into problems with checkable answers (logging and locking helpers, the stdlib's commonest
    short functions, became problems whose every solution returns None)."""
    args = [a.arg for a in fn.args.args]
    if not top_level or not args or args[0] in ("self", "cls") or fn.decorator_list:
        return False
    nodes = list(ast.walk(fn))
    if any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Global, ast.Nonlocal, ast.Await)) for n in nodes):
        return False
    return any(isinstance(n, ast.Return) and n.value is not None and not
               (isinstance(n.value, ast.Constant) and n.value.value is None) for n in nodes)


def _stdlib_snippets(root: Path, want: int, rng: random.Random, lo: int, hi: int,
                     computing: bool = False) -> list[dict]:
    # Scan files in a seeded order and stop early: parsing all ~1,900 stdlib files costs ~20 s for nothing.
    files = sorted(p for p in root.rglob("*.py") if not {"test", "tests", "site-packages", "idlelib"} & set(p.parts))
    rng.shuffle(files)
    pool: list[dict] = []
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        lines = source.splitlines()
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and lo <= node.end_lineno - node.lineno + 1 <= hi:
                if computing and not computes(node, id(node) in top):
                    continue
                snippet = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                pool.append({"origin": f"{path.relative_to(root)}:{node.lineno}", "seed": textwrap.dedent(snippet)})
        if len(pool) >= 4 * want:
            break
    return pool


def _file_snippets(path: Path) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"seeds.path: seed file {path} does not exist")
    if path.suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
    else:
        rows = [row for _, row in read_jsonl(path)]
    col = next((c for c in ("seed", "code", "content") if rows and c in rows[0]), None)
    if col is None:
        raise ValueError(f"{path}: no `seed`, `code` or `content` column in the rows")
    return [{"origin": f"{path.name}:{i}", "seed": str(r[col])} for i, r in enumerate(rows) if r.get(col)]


def _hf_snippets(cfg) -> list[dict]:
    import datasets

    ds = datasets.load_dataset(cfg.path, split=cfg.split)
    return [{"origin": f"{cfg.path}:{i}", "seed": str(s)} for i, s in enumerate(ds[cfg.column]) if s]


def collect_seeds(cfg, num: int, seed: int) -> pa.Table:
    """`num` seed rows from the configured source, deterministic in `seed`."""
    rng = random.Random(seed)
    lo, hi = cfg.min_lines, cfg.max_lines
    if cfg.source == "stdlib":
        root = Path(cfg.path or sysconfig.get_paths()["stdlib"])
        pool = _stdlib_snippets(root, num, rng, lo, hi, bool(cfg.get("computing", False)))
    elif cfg.source == "file":
        pool = _file_snippets(Path(cfg.path))
    elif cfg.source == "hf":
        pool = _hf_snippets(cfg)
    else:
        raise ValueError(f"seeds.source={cfg.source!r}: expected stdlib, file or hf")
    if cfg.source != "stdlib":
        # Snippets longer than max_lines are cut to a random window, as OSS-Instruct does.
        for row in pool:
            lines = row["seed"].splitlines()
            if len(lines) > hi:
                start = rng.randrange(len(lines) - hi + 1)
                row["seed"] = "\n".join(lines[start : start + hi])
    pool = [r for r in pool if r["seed"].strip()]
    if not pool:
        raise ValueError(f"seeds: source {cfg.source!r} ({cfg.path}) gave no snippets")
    picked = rng.sample(pool, min(num, len(pool)))
    return pa.Table.from_pylist(
        [{"seed_id": _stable_id(r["origin"], r["seed"]), **r} for r in picked], schema=SEEDS)
