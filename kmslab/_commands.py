"""What each ``kmslab`` sub-command does (the parser is in :mod:`kmslab.__main__`)."""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from ._errors import LabError

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"

#: (distribution, the versions kmslab works with, how to fix it)
REQUIREMENTS = (
    ("boto3", (1,), 'pip install "boto3>=1.34,<2"'),
    ("moto", (5,), 'pip install "moto[dynamodb]>=5.1,<6"'),
    ("python-hcl2", (8,), 'pip install "python-hcl2>=8,<9"  (9.x and 7.x read files differently)'),
    ("ipywidgets", (8,), 'pip install "ipywidgets>=8,<9"'),
    ("jupyterlab", (4,), 'pip install "jupyterlab>=4,<5"'),
    ("jupyterlab_widgets", (3,), 'pip install "ipywidgets>=8,<9"  (brings the JupyterLab widgets extension)'),
)


def _line(ok: bool, text: str, fix: str = "") -> bool:
    print(f"[ OK ] {text}" if ok else f"[FAIL] {text}" + (f"\n       what to do: {fix}" if fix else ""))
    return ok


def _notebooks() -> list[Path]:
    if not NOTEBOOKS.is_dir():
        raise LabError(f"the workbook's notebooks are not beside this kmslab ({NOTEBOOKS} is missing); "
                       "run kmslab from a clone of the repository")
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


# -- doctor ----------------------------------------------------------------------------------------------

def doctor(args: argparse.Namespace) -> int:
    results = [_line(sys.version_info >= (3, 10), f"Python {sys.version.split()[0]}",
                     "install Python 3.10 or newer")]
    for name, majors, fix in REQUIREMENTS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            results.append(_line(False, f"{name} is not installed", fix))
            continue
        major = int(re.match(r"\d+", version).group())  # type: ignore[union-attr]
        results.append(_line(major in majors, f"{name} {version}", fix))
    try:
        count = len(_notebooks())
        results.append(_line(count > 0, f"workbook: {count} notebooks in {NOTEBOOKS.name}/",
                             "run kmslab from a clone of the repository"))
    except LabError as error:
        results.append(_line(False, "workbook notebooks", str(error)))
    if args.terraform:
        from ._tfcli import find_provider_mirror
        terraform = shutil.which("terraform")
        if terraform:
            version = subprocess.run([terraform, "version"], capture_output=True, text=True).stdout.split("\n")[0]
            results.append(_line(True, version))
        else:
            results.append(_line(False, "terraform CLI not found",
                                 "install it from https://developer.hashicorp.com/terraform/install"))
        mirror = find_provider_mirror()
        results.append(_line(mirror is not None, f"AWS provider mirror: {mirror}" if mirror else
                             "no local mirror of the AWS provider",
                             "set KMSLAB_TF_PROVIDER_MIRROR to a filesystem_mirror folder (or let terraform "
                             "init download the provider)"))
    results.append(_check_target(args.target))
    failed = results.count(False)
    print(f"\n{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _check_target(target: str | None) -> bool:
    from ._lab import Lab
    try:
        name = _target(target)
    except LabError as error:
        return _line(False, str(error), "give one of the targets listed")
    try:
        with Lab(target=name, quiet=True) as lab:
            arn = lab.session.client("sts").get_caller_identity()["Arn"]
        return _line(True, f"target {name}: reachable as {arn}")
    except Exception as error:  # the doctor reports every failure as one line
        return _line(False, f"target {name}: {error}", "see README.md, section on targets")


# -- lab -------------------------------------------------------------------------------------------------

def lab(args: argparse.Namespace) -> int:
    _notebooks()
    command = [sys.executable, "-m", "jupyter", "lab", str(NOTEBOOKS), *args.jupyter_args]
    return subprocess.call(command)


# -- status and cleanup ----------------------------------------------------------------------------------

def _target(given: str | None) -> str:
    """The target a command is for: given, else ``KMSLAB_TARGET``, else offline; a name kmslab does not know
    is an error that lists the targets (a typo must never fall through to real AWS)."""
    from ._lab import TARGETS
    name = given or os.environ.get("KMSLAB_TARGET") or "offline"
    if name not in TARGETS:
        source = "--target" if given else "KMSLAB_TARGET"
        raise LabError(f"unknown target {name!r} (from {source}): choose one of {', '.join(TARGETS)}")
    return name


def status(args: argparse.Namespace) -> int:
    target = _target(args.target)
    if target in ("offline", "emulator"):
        print(f"target {target}: each notebook's kernel holds its own lab; it starts empty and ends with the "
              "kernel, so nothing is left behind between sessions.")
        print("What each notebook starts from (workbook.start(step) rebuilds it in its own kernel):")
        from .workbook import STEPS
        for step in STEPS.values():
            print(f"  {step.notebook:<28} {step.world}")
        return 0
    from ._aws import find_lab_resources
    from ._lab import Lab
    with Lab(target="aws", quiet=True) as lab:
        found = find_lab_resources(lab.session, None)
    _print_resources(found)
    return 0


def cleanup(args: argparse.Namespace) -> int:
    from ._aws import delete_lab_resources, find_lab_resources
    from ._lab import Lab
    with Lab(target=_target(args.target), quiet=True) as lab:
        found = find_lab_resources(lab.session, args.lab_id)
        _print_resources(found)
        if args.dry_run or not found:
            print("dry run: nothing was changed." if args.dry_run else "nothing to clean up.")
            return 0
        for line in delete_lab_resources(lab.session, found):
            print(line)
    return 0


def _print_resources(found: list) -> None:
    if not found:
        print("no resources tagged kmslab:lab were found.")
    for resource in found:
        print(f"  {resource.kind:<16} {resource.name}  (lab {resource.lab_id})")


# -- reset -----------------------------------------------------------------------------------------------

def reset(args: argparse.Namespace) -> int:
    import nbformat
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    sources = _notebooks()
    clashes = [dest / nb.name for nb in sources if (dest / nb.name).exists()]
    if clashes and not args.force:
        names = ", ".join(p.name for p in clashes)
        if not sys.stdin.isatty():
            raise LabError(f"{dest} already holds {names}; nothing was overwritten (add --force to replace them)")
        answer = input(f"{dest} already holds {names}. Replace them and lose the work in them? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing was changed.")
            return 1
    for index, source in enumerate(sources, 1):
        notebook = nbformat.read(source, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        nbformat.write(notebook, dest / source.name)
        print(f"[{index}/{len(sources)}] {source.name}")
    print(f"fresh copies of {len(sources)} notebooks are in {dest}/ (open them with: kmslab lab, or jupyter lab {dest})")
    return 0


# -- handout ---------------------------------------------------------------------------------------------

def handout(args: argparse.Namespace) -> int:
    import nbformat
    from nbconvert import HTMLExporter

    sources = _notebooks()
    exporter = HTMLExporter(template_name="lab")
    head, bodies, contents = "", [], []
    for index, source in enumerate(sources, 1):
        print(f"[{index}/{len(sources)}] {source.name}", flush=True)
        notebook = nbformat.read(source, as_version=4)
        notebook.metadata.pop("widgets", None)  # widgets are shown in their text form
        page, _ = exporter.from_notebook_node(notebook)
        if not head:
            head = page[page.index("<head>") + 6:page.index("</head>")]
            head = re.sub(r"<title>.*?</title>", "<title>kmslab workbook handout</title>", head, flags=re.S)
        body = page[page.index(">", page.index("<body")) + 1:page.rindex("</body>")]
        anchor = source.stem
        title = _title_of(notebook) or source.stem
        contents.append(f"<li><a href='#{anchor}'>{html.escape(title)}</a></li>")
        bodies.append(f"<section id='{anchor}' class='kmslab-handout-notebook'>{body}</section>")
    toc = ("<section class='kmslab-handout-contents'><h1>kmslab workbook: how a customer-managed KMS key "
           "protects a DynamoDB table</h1><h2>Contents</h2><ol>" + "".join(contents) + "</ol></section>")
    style = ("<style>.kmslab-handout-notebook{break-before:page;border-top:2px solid #999;margin-top:2em}"
             ".kmslab-handout-contents{padding:2em 4em;font-family:var(--jp-content-font-family);"
             "font-size:var(--jp-content-font-size2,1.2em);line-height:1.6}"
             ".kmslab-handout-contents a{color:var(--jp-content-link-color,#1565c0)}</style>")
    out = Path(args.out)
    out.write_text(f"<!DOCTYPE html><html lang='en'><head>{head}{style}</head><body class='jp-Notebook'>"
                   f"{toc}{''.join(bodies)}</body></html>")
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB, {len(sources)} notebooks)")
    return 0


def _title_of(notebook: object) -> str | None:
    for cell in notebook.cells:  # type: ignore[attr-defined]
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None
