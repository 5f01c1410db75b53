"""Where the workbook's own files are, in a clone and in an installed wheel, and how a learner copy is made.

The repository keeps them at its top, for learners who clone it: ``notebooks/`` (the ``.ipynb`` files and
``mistakes/``) and ``terraform/``. The wheel carries the same files as package data, under
``kmslab/_data/notebooks`` and ``kmslab/_data/terraform`` (``pyproject.toml`` maps those two package
folders onto the repository's folders, so nothing is copied by hand and nothing can drift). Everything is
read through :mod:`importlib.resources`; a source checkout (this package beside its ``pyproject.toml``)
uses its own folders, so that an edit there is what runs.

A learner copy (:func:`make_learner_copy`, behind ``kmslab reset`` and ``kmslab lab``) has the
repository's layout: ``DEST/notebooks/`` with the notebooks (outputs and saved widget state stripped)
and ``mistakes/``, and ``DEST/terraform/``. A notebook run from ``DEST/notebooks`` therefore finds
``../terraform`` exactly as in a clone.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent

#: The notebooks' file names: two digits, an underscore, a name.
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
#: What every notebook's world is built from (the bundled Terraform must hold at least these).
TERRAFORM_FILES = ("versions.tf", "providers.tf", "variables.tf", "kms.tf", "dynamodb.tf", "iam.tf", "outputs.tf")


def in_checkout() -> bool:
    """True when this kmslab runs from a source checkout (a clone, or an editable install of one)."""
    return ((CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "notebooks").is_dir()
            and (CHECKOUT / "terraform" / "kms.tf").is_file())


def _data(name: str) -> Traversable:
    if in_checkout():
        return CHECKOUT / name
    return resources.files("kmslab") / "_data" / name


def notebooks_folder() -> Traversable:
    """The workbook's ``notebooks`` folder (the ``.ipynb`` files, ``mistakes/``)."""
    return _data("notebooks")


def terraform_folder() -> Traversable:
    """The bundled ``terraform`` folder."""
    return _data("terraform")


def as_path(folder: Traversable) -> Path:
    """``folder`` as a file-system path (an installed wheel is unpacked: its package data are files)."""
    if isinstance(folder, Path):
        return folder
    path = Path(str(folder))
    if not path.is_dir():  # pragma: no cover - kmslab imported from a zip file
        raise FileNotFoundError(f"kmslab's {folder.name} folder is not on the file system ({folder})")
    return path


def notebooks() -> list[Traversable]:
    """The workbook's notebooks, in order."""
    folder = notebooks_folder()
    if not folder.is_dir():
        return []
    return sorted((entry for entry in folder.iterdir() if entry.is_file() and Path(entry.name).match(NOTEBOOK_PATTERN)),
                  key=lambda entry: entry.name)


def _files(folder: Traversable, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_dir():
            yield from _files(entry, (*prefix, entry.name))
        else:
            yield (*prefix, entry.name), entry


def learner_files() -> Iterator[tuple[str, Traversable]]:
    """``("notebooks/01_forge_the_key.ipynb", source), ...``: every file a learner copy holds.

    The notebooks and ``notebooks/mistakes/``; every ``.tf`` file of the bundled Terraform and its README.
    Not the notebooks' text sources or their pairing (those are for maintainers).
    """
    for entry in notebooks():
        yield f"notebooks/{entry.name}", entry
    mistakes = notebooks_folder() / "mistakes"
    if mistakes.is_dir():
        for parts, entry in _files(mistakes):
            yield "/".join(("notebooks", "mistakes", *parts)), entry
    for parts, entry in _files(terraform_folder()):
        if len(parts) == 1 and (parts[0].endswith(".tf") or parts[0] == "README.md"):
            yield f"terraform/{parts[0]}", entry


def learner_notebook(source: Traversable) -> str:
    """A notebook as a learner starts it: no outputs, no execution counts, no saved widget state."""
    import nbformat

    notebook = nbformat.reads(source.read_text(encoding="utf-8"), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata.pop("widgets", None)
    return nbformat.writes(notebook) + "\n"


def make_learner_copy(dest: Path) -> list[Path]:
    """Write every learner file into ``dest`` (replacing what is there); the paths written, in order."""
    written = []
    for relative, source in learner_files():
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.endswith(".ipynb"):
            target.write_text(learner_notebook(source), encoding="utf-8")
        else:
            target.write_bytes(source.read_bytes())
        written.append(target)
    return written
