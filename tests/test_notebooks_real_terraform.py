"""The notebooks run unchanged when the real terraform CLI applies the workbook's Terraform.

``KMSLAB_ENGINE=terraform`` makes ``workbook.start`` and ``stack`` use the real CLI against the lab's
endpoint on 127.0.0.1. Outputs then differ from the stored ones (other IDs, the CLI's own wording), so
this test runs each notebook in a fresh kernel and checks that no cell fails; nbval checks the stored
outputs with the embedded applier.

Run by default: the notebooks whose own cells run Terraform (01 plans and applies the key, 02 the table,
04 the whole stack, 07 destroys it). Between them their ``start()`` replays every kind of world the
workbook starts from under the CLI (none, the key, the key and table with its item, the whole stack with
the least-privilege policy); the other notebooks differ from these only in that replay, so running them
too would repeat the same CLI work (about 30 s each). ``KMSLAB_REAL_CLI_NOTEBOOKS=all`` runs every
notebook. Skipped where the CLI or the provider mirror is missing, or with KMSLAB_SKIP_SLOW=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kmslab._tfcli import terraform_available

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
AVAILABLE, WHY_NOT = terraform_available()

pytestmark = [
    pytest.mark.skipif(not AVAILABLE, reason=f"real-terraform notebook run skipped: {WHY_NOT}"),
    pytest.mark.skipif(os.environ.get("KMSLAB_SKIP_SLOW") == "1", reason="KMSLAB_SKIP_SLOW=1"),
]


#: The notebooks whose own cells run Terraform (see the module docstring).
RUNS_TERRAFORM = ("01", "02", "04", "07")
CHOSEN = [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
          if os.environ.get("KMSLAB_REAL_CLI_NOTEBOOKS") == "all" or p.name[:2] in RUNS_TERRAFORM]


def test_the_chosen_notebooks_are_the_ones_whose_cells_run_terraform():
    """The choice follows the notebooks: a notebook whose text calls the stack's plan, apply or destroy is
    among those run with the real CLI."""
    import re
    calls = re.compile(r"\.(?:plan|apply|destroy)\(")
    running = {p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.md") if calls.search(p.read_text())}
    assert running <= set(RUNS_TERRAFORM), running


@pytest.mark.parametrize("path", CHOSEN, ids=lambda p: p.stem)
def test_notebook_runs_with_the_real_cli(path, monkeypatch):
    monkeypatch.setenv("KMSLAB_ENGINE", "terraform")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    if path.stem.startswith("01"):  # the CLI really ran: its warning after a targeted apply is in the outputs
        text = "".join(str(o.get("text", "")) for cell in notebook.cells for o in cell.get("outputs", []))
        assert "Warning: Applied changes may be incomplete" in text
