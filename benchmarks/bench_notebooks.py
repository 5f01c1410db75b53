"""Notebook wall times in fresh kernels, against the floor: a fresh kernel that only imports boto3 and moto."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _run(notebook: nbformat.NotebookNode) -> float:
    start = time.perf_counter()
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return time.perf_counter() - start


def floor_kernel() -> float:
    """A fresh kernel started, ``import boto3, moto`` run, kernel stopped."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import boto3, moto")])
    return min(_run(notebook) for _ in range(3))


def notebook_times() -> list[tuple[str, float]]:
    return [(path.stem, _run(nbformat.read(path, as_version=4)))
            for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]


def first_denial(name_part: str = "04_") -> float | None:
    """Seconds from a fresh kernel's start to the first cell that shows AccessDeniedException."""
    path = next(iter(sorted(NOTEBOOKS.glob(f"{name_part}*.ipynb"))), None)
    if path is None:
        return None
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            client.execute_cell(cell, index)
            if "AccessDeniedException" in str(cell.get("outputs", "")):
                return time.perf_counter() - start
    return None


def nbval_suite() -> float | None:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-q",
                           "-p", "no:cacheprovider", str(NOTEBOOKS)], capture_output=True, text=True,
                          cwd=NOTEBOOKS.parent)
    return time.perf_counter() - start if done.returncode == 0 else None
