"""Every notebook is a pair, its text source (MyST Markdown) and its ``.ipynb``, and the two agree.

jupytext's pairing (notebooks/jupytext.toml) is what makes an edit in JupyterLab and an edit in the text
the same edit; these tests catch a pair that drifted apart (one side edited without jupytext) and a stored
notebook that the builder would not write byte for byte from its text.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
IPYNB = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
TEXT = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_has_a_text_source_and_every_source_a_notebook():
    assert IPYNB, "no notebooks found"
    assert [p.stem for p in IPYNB] == [p.stem for p in TEXT]


def test_the_pairing_is_configured_for_jupytext():
    """jupytext reads its configuration from the notebook's folder: pairs are ipynb + MyST Markdown."""
    from jupytext.config import load_jupytext_config

    config = load_jupytext_config(str(NOTEBOOKS))
    assert config is not None
    formats = config.formats if isinstance(config.formats, str) else ",".join(config.formats)
    assert set(formats.split(",")) == {"ipynb", "md:myst"}


@pytest.mark.parametrize("ipynb", IPYNB, ids=[p.stem for p in IPYNB])
def test_the_text_and_the_notebook_have_the_same_cells(ipynb):
    text = jupytext.read(ipynb.with_suffix(".md"), fmt="md:myst")
    stored = nbformat.read(ipynb, as_version=4)
    assert [(c.cell_type, c.source) for c in text.cells] == [(c.cell_type, c.source) for c in stored.cells]


@pytest.mark.parametrize("ipynb", IPYNB, ids=[p.stem for p in IPYNB])
def test_the_builder_writes_the_stored_notebook_byte_for_byte(ipynb):
    """Rebuilding from the text (stable IDs, stripped metadata) and keeping the stored outputs changes nothing.

    The outputs themselves come from running the notebook; nbval checks them against a fresh run.
    """
    builder = _builder()
    stored = nbformat.read(ipynb, as_version=4)
    rebuilt = builder.build(ipynb.stem)
    assert [c.id for c in rebuilt.cells] == [f"{ipynb.stem[:2]}-{i:02d}" for i in range(len(rebuilt.cells))]
    for new, old in zip(rebuilt.cells, stored.cells, strict=True):
        if new.cell_type == "code":
            new.outputs, new.execution_count = old.outputs, old.execution_count
    for made_by_the_run in ("language_info", "widgets"):  # the kernel's and nbclient's, after a run
        if made_by_the_run in stored.metadata:
            rebuilt.metadata[made_by_the_run] = stored.metadata[made_by_the_run]
    assert nbformat.writes(rebuilt) + "\n" == ipynb.read_text(encoding="utf-8")


@pytest.mark.parametrize("ipynb", IPYNB, ids=[p.stem for p in IPYNB])
def test_the_stored_outputs_pass_the_builders_checks(ipynb):
    """No stored error, no stderr, no machine path: what the builder refuses after a run."""
    assert _builder().problems_in(nbformat.read(ipynb, as_version=4)) == []


def test_no_markdown_cell_has_an_unescaped_dollar_pair():
    """JupyterLab typesets text between two ``$`` as LaTeX, even written ``\\$`` or ``&#36;`` (MathJax reads the
    rendered page, after the Markdown): amounts are written ``USD 1``."""
    import re

    import nbformat
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                prose = re.sub(r"`[^`]*`", "", cell.source)  # code spans are not typeset
                assert "$" not in prose, f"{path.name}: a $ in {cell.source[:80]!r}: write USD 1"


def test_an_edit_in_jupyterlab_and_an_edit_in_the_text_are_the_same_edit(tmp_path):
    """What JupyterLab does with jupytext installed: its contents manager saves both files of the pair, and
    opens the notebook with the text's cells (the stored outputs stay)."""
    import shutil

    contents = pytest.importorskip("jupyter_server.services.contents.largefilemanager")
    from jupytext.sync_contentsmanager import build_sync_jupytext_contents_manager_class

    for name in ("jupytext.toml", "00_welcome.ipynb", "00_welcome.md"):
        shutil.copy(NOTEBOOKS / name, tmp_path / name)
    manager = build_sync_jupytext_contents_manager_class(contents.LargeFileManager)(root_dir=str(tmp_path))

    notebook = manager.get("00_welcome.ipynb")["content"]
    notebook.cells[0].source = notebook.cells[0].source.replace("# 00 · Welcome:", "# 00 · Hello:")
    manager.save({"type": "notebook", "content": notebook}, "00_welcome.ipynb")
    assert "# 00 · Hello:" in (tmp_path / "00_welcome.md").read_text(encoding="utf-8")
    assert "# 00 · Hello:" in (tmp_path / "00_welcome.ipynb").read_text(encoding="utf-8")

    text = (tmp_path / "00_welcome.md").read_text(encoding="utf-8")
    (tmp_path / "00_welcome.md").write_text(text.replace("# 00 · Hello:", "# 00 · Hi:"), encoding="utf-8")
    opened = manager.get("00_welcome.ipynb")["content"]
    assert opened.cells[0].source.startswith("# 00 · Hi:")
    assert any(cell.get("outputs") for cell in opened.cells if cell.cell_type == "code")
