"""Terraform's state for one configuration: what exists (resources) and the outputs of the last apply.

One :class:`State` may be shared by several :class:`~kmslab._terraform.Stack` objects over the same
folder (``Lab.terraform`` keeps one per configuration folder and lab), so that a new ``Stack`` sees
what an earlier one created, as a second ``terraform apply`` in the same working directory does.
With ``path`` it is also written to a JSON file after every change and read back from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class State:
    """``resources``: ``{address: {"type", "name", "attributes", "dependencies"[, "status"]}}``;
    ``outputs``: ``{name: value}``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self.resources: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, Any] = {}
        if self.path is not None and self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.resources.update(data.get("resources", {}))
            self.outputs.update(data.get("outputs", {}))

    def save(self) -> None:
        if self.path is None:
            return
        data = {"version": 4, "kmslab": 1, "resources": self.resources, "outputs": self.outputs}
        self.path.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")

    def __repr__(self) -> str:
        return f"<State with {len(self.resources)} resource(s)>"
