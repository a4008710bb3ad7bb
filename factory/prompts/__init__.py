"""Prompt templates, one file per role and step, rendered with `$field` placeholders (string.Template).

Why files: prompts are the part of a data factory people tune most; keeping them as versioned text makes every
change visible in review and lets the SFT data reuse the exact prompt the model was sampled with.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path

HERE = Path(__file__).parent


@functools.cache
def template(name: str) -> string.Template:
    path = HERE / f"{name}.txt"
    if not path.exists():
        raise FileNotFoundError(f"prompt template {path} not found")
    return string.Template(path.read_text())


def render(name: str, **fields) -> str:
    """Fill template `name`; a missing field raises KeyError naming it."""
    return template(name).substitute(**fields).strip()


def chat(name: str, **fields) -> list[dict[str, str]]:
    """The template as a one-message chat prompt."""
    return [{"role": "user", "content": render(name, **fields)}]
