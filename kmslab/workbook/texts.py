"""The texts the notebooks show that are not in the notebooks: quizzes and exercise hints, as data.

One TOML file per notebook, named like the notebook, in ``text/`` beside this module (package data, read
with :mod:`importlib.resources`): ``text/01_forge_the_key.toml`` holds notebook 01's ``[[quiz]]`` tables,
``text/05_least_privilege.toml`` also the ``[exercise]`` hints. Editing a file changes what ``quiz(step, n)``
and ``exercise.hint()`` show; the notebook's stored outputs follow at its next rebuild.
"""

from __future__ import annotations

import sys
from functools import cache
from importlib import resources
from typing import Any

from .steps import STEPS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@cache
def _load(notebook: str) -> dict[str, Any]:
    source = resources.files(__package__).joinpath("text", f"{notebook}.toml")
    if not source.is_file():
        return {}
    return tomllib.loads(source.read_text(encoding="utf-8"))


def texts(step: int) -> dict[str, Any]:
    """The data of notebook ``step`` (``{"quiz": [...], "exercise": {...}}``; empty when it has none)."""
    if step not in STEPS:
        raise LookupError(f"there is no notebook {step!r}")
    return _load(STEPS[step].notebook)
