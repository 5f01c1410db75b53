#!/usr/bin/env python3
"""Rebuild the workbook's notebooks from their text sources, run them, and store their outputs.

    python tools/build_notebooks.py                 # every notebooks/NN_*.md -> NN_*.ipynb, executed
    python tools/build_notebooks.py 04 05           # only the notebooks whose names start so
    python tools/build_notebooks.py --no-execute    # write them without outputs

The text source of each notebook is ``notebooks/NN_name.md`` (jupytext's MyST Markdown), paired with
``NN_name.ipynb`` by ``notebooks/jupytext.toml``. jupytext reads the text and nbclient runs it (a fresh
``python3`` kernel per notebook, with ``notebooks/`` as the working directory, as in JupyterLab and under
nbval). This file adds only what those two do not:

* stable cell IDs (``04-17``: notebook and position) and notebook metadata stripped to the kernel, so a
  rebuild changes only what really changed;
* no timing metadata, consecutive stream outputs joined, and the stored widget models renamed to IDs that
  do not change from run to run: a rebuild of unchanged sources is byte-identical;
* output checks: no error output, no stderr, no machine path (``/root/``, ``/tmp/``, ``/home/``).

After writing an ``.ipynb`` it touches its ``.md``, so that jupytext in JupyterLab does not take the text
for older than the notebook.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FORBIDDEN_IN_OUTPUTS = ("/root/", "/tmp/", "/home/")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def sources() -> dict[str, Path]:
    """``{"00_welcome": notebooks/00_welcome.md, ...}``: every notebook's text source, in order."""
    return {path.stem: path for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` from its text, without outputs: stable cell IDs, metadata stripped."""
    text = jupytext.read(sources()[name], fmt="md:myst")
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for index, cell in enumerate(text.cells):
        source = cell.source
        new = nbformat.v4.new_markdown_cell(source) if cell.cell_type == "markdown" else (
            nbformat.v4.new_code_cell(source) if cell.cell_type == "code" else nbformat.v4.new_raw_cell(source))
        tags = cell.metadata.get("tags")
        if tags:
            new.metadata["tags"] = list(tags)
        new.id = f"{name[:2]}-{index:02d}"
        nb.cells.append(new)
    return nb


def execute(nb: nbformat.NotebookNode) -> None:
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False, record_timing=False,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()


def stable_widget_ids(name: str, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Rename the widget models stored with the notebook to IDs that do not change from run to run.

    nbclient stores the widgets' state (so that a notebook opened without a kernel still shows them);
    their model IDs are random, which would make every rebuild rewrite every notebook. The IDs are only
    keys that the stored outputs and states use to point at each other, so a consistent renaming is safe.
    """
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    if not state:
        return nb
    text = json.dumps(nb)
    for number, model_id in enumerate(sorted(state, key=text.index)):
        stable = hashlib.sha256(f"{name}:{number}".encode()).hexdigest()[:32]
        text = text.replace(model_id, stable)
    return nbformat.from_dict(json.loads(text))


def coalesce_streams(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Join consecutive stdout (or stderr) outputs of a cell: how the kernel split them is chance."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        joined: list = []
        for output in cell.outputs:
            if (output.get("output_type") == "stream" and joined and joined[-1].get("output_type") == "stream"
                    and joined[-1].get("name") == output.get("name")):
                joined[-1]["text"] += output["text"]
            else:
                joined.append(output)
        cell.outputs = joined
    return nb


def problems_in(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {cell.id}: stored error {output.get('ename')}")
            if output.get("name") == "stderr":
                found.append(f"cell {cell.id}: stderr output: {output.get('text', '')[:200]}")
            text = json.dumps(output)
            for bad in FORBIDDEN_IN_OUTPUTS:
                if bad in text:
                    found.append(f"cell {cell.id}: machine path {bad!r} in an output")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="build only notebooks whose names start with these")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without running them")
    args = parser.parse_args(argv)
    names = [n for n in sources() if not args.only or any(n.startswith(p) for p in args.only)]
    if not names:
        print(f"no notebook source matches {' '.join(args.only)}", file=sys.stderr)
        return 2
    # the kernel runs from notebooks/: it must import this checkout's kmslab whatever the caller's PYTHONPATH
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    failed = False
    for name in names:
        nb = build(name)
        started = time.perf_counter()
        if not args.no_execute:
            execute(nb)
            nb = stable_widget_ids(name, coalesce_streams(nb))
        seconds = time.perf_counter() - started
        problems = problems_in(nb) if not args.no_execute else []
        nbformat.validate(nb)
        nbformat.write(nb, NOTEBOOKS / f"{name}.ipynb")
        os.utime(sources()[name])  # the text is not older than its pair (jupytext's check in JupyterLab)
        status = "ok" if not problems else "PROBLEMS"
        print(f"{name}.ipynb: {len(nb.cells)} cells, {seconds:.1f} s, {status}")
        for problem in problems:
            print(f"  - {problem}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
