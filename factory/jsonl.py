"""Reading user JSONL files: one JSON object per line, errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path


def read_jsonl(path: Path, error: type[Exception] = ValueError) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; raises `error` naming `path:line` for a bad line."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise error(f"{path}:{n}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise error(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
        rows.append((n, row))
    return rows
