"""What each ``kmslab`` sub-command does (the parser is in :mod:`kmslab.__main__`)."""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from . import _resources
from ._errors import LabError

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


def _notebooks() -> list:
    found = _resources.notebooks()
    if not found:
        raise LabError(f"the workbook's notebooks are missing from this kmslab ({_resources.notebooks_folder()} "
                       "holds none); reinstall kmslab, or run it from a clone of the repository")
    return found


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
    results += _check_workbook()
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


def _check_workbook() -> list[bool]:
    """The notebooks ``kmslab lab`` opens and the Terraform folder they apply: present, readable, valid."""
    import nbformat

    where = "this clone" if _resources.in_checkout() else "the installed package"
    fix = "reinstall kmslab (pip install --force-reinstall kmslab), or run it from a clone of the repository"
    notebooks = _resources.notebooks()
    problems = []
    for source in notebooks:
        try:
            nbformat.validate(nbformat.reads(source.read_text(encoding="utf-8"), as_version=4))
        except Exception as error:  # unreadable or invalid: reported, never raised
            problems.append(f"{source.name}: {type(error).__name__}: {str(error).splitlines()[0][:120]}")
    results = [_line(bool(notebooks) and not problems,
                     f"notebooks: {len(notebooks)} valid notebooks in {where}" if not problems else
                     f"notebooks: {'; '.join(problems)}", fix)]
    seed = _resources.notebooks_folder() / "mistakes" / "seed_table" / "dynamodb.tf"
    results.append(_line(seed.is_file(), "notebooks/mistakes/seed_table (notebook 02's broken Terraform)", fix))
    terraform = _resources.terraform_folder()
    missing = [name for name in _resources.TERRAFORM_FILES if not (terraform / name).is_file()]
    if missing:
        results.append(_line(False, f"bundled Terraform: {', '.join(missing)} missing", fix))
        return results
    from ._lab import Lab
    try:
        with Lab(quiet=True) as lab:
            plan = lab.terraform(_resources.as_path(terraform), out=lambda line: None).plan()
        results.append(_line(plan.counts()[0] > 0, f"bundled Terraform: valid; on an empty lab: {plan.summary}",
                             fix))
    except Exception as error:  # the doctor reports every failure as one line
        results.append(_line(False, f"bundled Terraform: {type(error).__name__}: {error}", fix))
    return results


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

#: Where ``kmslab lab`` puts a learner copy when it runs from an installed package (not from a clone).
LEARNER_FOLDER = "kmslab-workbook"


def _running_as_root() -> bool:
    return getattr(os, "geteuid", lambda: -1)() == 0


def lab_command(folder: Path, jupyter_args: list[str]) -> tuple[list[str], list[str]]:
    """The JupyterLab command line for ``folder``, and what kmslab says about it before it starts."""
    extra, said = list(jupyter_args), []
    if _running_as_root() and "--allow-root" not in extra:
        extra.append("--allow-root")
        said.append("kmslab: you are root here, so JupyterLab starts with --allow-root (it refuses root without it).")
    return [sys.executable, "-m", "jupyter", "lab", str(folder), *extra], said


def _lab_folder(args: argparse.Namespace) -> Path:
    """The folder to open: ``--folder``, else a clone's ``notebooks/``, else a learner copy in ./kmslab-workbook."""
    if args.folder:
        folder = Path(args.folder)
        if not folder.is_dir():
            raise LabError(f"{folder} is not a folder (make a learner copy there with: kmslab reset {folder})")
        return folder
    if _resources.in_checkout():
        _notebooks()
        return _resources.CHECKOUT / "notebooks"
    copy = Path(LEARNER_FOLDER)
    if (copy / "notebooks").is_dir():
        print(f"kmslab: opening your copy of the workbook in {copy}/ "
              f"(kmslab reset {copy} --force starts it afresh)", flush=True)
    else:
        _notebooks()
        _resources.make_learner_copy(copy)
        print(f"kmslab: your copy of the workbook is in {copy}/ (its notebooks/ and terraform/); "
              "your work stays there.", flush=True)
    return copy


def _announce_url(process: subprocess.Popen, folder: Path) -> None:
    """Print the running server's URL (with its token) once it is up; quietly give up after a minute."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:  # pragma: no cover - JupyterLab 4 always brings jupyter_server
        return
    for _ in range(240):
        if process.poll() is not None:
            return
        for server in list_running_servers():
            if server.get("pid") == process.pid or Path(server.get("root_dir", "")).resolve() == folder.resolve():
                token = server.get("token")
                url = f"{server['url']}lab" + (f"?token={token}" if token else "")
                print(f"\nkmslab: JupyterLab is running at {url}\n"
                      "kmslab: to stop it, press Ctrl+C twice in this terminal (or File > Shut Down in JupyterLab)\n",
                      flush=True)
                return
        time.sleep(0.25)


def lab(args: argparse.Namespace) -> int:
    folder = _lab_folder(args)
    command, said = lab_command(folder, args.jupyter_args)
    for line in said:
        print(line, flush=True)
    process = subprocess.Popen(command)
    threading.Thread(target=_announce_url, args=(process, folder), daemon=True).start()
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:  # JupyterLab has the same Ctrl+C and decides; wait for it to finish
            continue


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

def _writable_folder(dest: Path) -> None:
    """Refuse, in one sentence, a destination that is a file or that cannot be written."""
    for folder in (dest, dest / "notebooks", dest / "terraform"):
        if folder.exists() and not folder.is_dir():
            raise LabError(f"{folder} is a file, not a folder: choose another destination")
    existing = next((p for p in (dest, *dest.parents) if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise LabError(f"cannot write into {existing}: choose a folder you can write to")


def reset(args: argparse.Namespace) -> int:
    dest = Path(args.dest)
    _notebooks()
    _writable_folder(dest)
    clashes = [dest / relative for relative, _ in _resources.learner_files()
               if relative.endswith(".ipynb") and (dest / relative).exists()]
    if clashes and not args.force:
        names = ", ".join(p.name for p in clashes)
        if not sys.stdin.isatty():
            raise LabError(f"{dest / 'notebooks'} already holds {names}; nothing was overwritten "
                           "(add --force to replace them)")
        answer = input(f"{dest / 'notebooks'} already holds {names}. Replace them and lose the work in them? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing was changed.")
            return 1
    try:
        written = _resources.make_learner_copy(dest)
    except OSError as error:
        raise LabError(f"could not write the learner copy into {dest}: {error.strerror or error}") from None
    notebooks = [path for path in written if path.suffix == ".ipynb"]
    for index, path in enumerate(notebooks, 1):
        print(f"[{index}/{len(notebooks)}] notebooks/{path.name}")
    print(f"a fresh copy of the workbook is in {dest}/: {len(notebooks)} notebooks (no outputs, no saved widget "
          f"state), notebooks/mistakes/ and terraform/, {len(written)} files in all. "
          f"Open it with: kmslab lab --folder {dest}")
    return 0


# -- handout ---------------------------------------------------------------------------------------------

#: The handout's own style: on screen, the contents page; on paper (A4 landscape in two columns, under 30
#: pages for the twelve notebooks: an 88-column code line fits a column), a cell's input kept whole and with
#: the start of its output (JupyterLab's rule that keeps every output whole is lifted: it left pages half
#: empty), code wrapped at word boundaries, prompts, set-up cells and what only works on screen left out,
#: the notebooks one after the other in one flow of columns.
HANDOUT_CSS = """
.kmslab-handout-notebook{break-before:page;border-top:2px solid #999;margin-top:2em}
.kmslab-handout-contents{padding:2em 4em;font-family:var(--jp-content-font-family);
  font-size:var(--jp-content-font-size2,1.2em);line-height:1.6}
.kmslab-handout-contents a{color:var(--jp-content-link-color,#1565c0)}
.kmslab-handout-same{font-style:italic}
@page{size:A4 landscape;margin:6mm 7mm}
@media print{
  :root{--jp-code-font-size:6.6pt;--jp-content-font-size1:7.9pt;--jp-content-font-size2:1.1em;
    --jp-content-font-size3:1.25em;--jp-content-font-size4:1.4em;--jp-ui-font-size1:8pt;
    --jp-code-line-height:1.15;--jp-content-line-height:1.25;--jp-cell-padding:2px;--jp-code-padding:2px}
  body{margin:0;padding:0}
  .jp-Notebook{padding:0!important}
  .jp-InputPrompt,.jp-OutputPrompt,.jp-Collapser{display:none!important}
  .jp-Cell{padding:1px 0!important}
  .jp-Cell-inputWrapper{break-inside:avoid;break-after:avoid}
  .jp-OutputArea-child{break-inside:auto!important}
  .jp-RenderedHTMLCommon h1,.jp-RenderedHTMLCommon h2,.jp-RenderedHTMLCommon h3{break-after:avoid;margin-top:.5em;
    margin-bottom:.25em}
  .jp-RenderedHTMLCommon p,.jp-RenderedHTMLCommon ul,.jp-RenderedHTMLCommon table{margin-bottom:.4em}
  .jp-RenderedHTMLCommon p,.jp-RenderedHTMLCommon li{orphans:3;widows:3}
  pre,code,.highlight pre,.jp-OutputArea-output pre{white-space:pre-wrap!important;word-break:normal!important;
    overflow-wrap:break-word!important}
  .jp-InputArea-editor,.jp-OutputArea-output{overflow:visible!important}
  .celltag_kmslab-screen-only .jp-Cell-inputWrapper{display:none!important}
  .kmslab-handout-contents{padding:0 1em;line-height:1.35}
  .kmslab-handout-contents h1{font-size:1.5em;margin:.2em 0}
  .kmslab-handout-notebook{break-before:auto;border-top:1px solid #999;margin-top:1em}
  .kmslab-handout-columns{column-count:2;column-gap:6mm;column-rule:1px solid #ddd}
}
"""

#: Lines of an output that only mean something on screen (they point at buttons).
SCREEN_ONLY_LINES = re.compile(r"^\s*\((Answer with the buttons|No try yet: change a setting)[^\n]*\)\n?", re.M)
#: A code cell that only shows an interactive view: on paper, its output (the view's text) is enough.
SCREEN_ONLY_CELL = re.compile(r"quiz\(\d+, \d+\)\.widget\(\)")
#: A code cell with nothing to read on paper: imports and ``start(step=N)``, or calls left commented out
#: for the learner (a hint, a solution).
SETUP_LINE = re.compile(r"(?:from \S+ import .*|import \S+|lab = start\(step=\d+\)|#.*|\s*)")
#: The paragraph every notebook's "In real AWS" repeats: on paper, once, then a pointer to it.
SIMULATED_PARAGRAPH = re.compile(r"\*\*What kmslab simulates here\.\*\*[^\n]*")


def _handout_notebook(notebook: Any, first: bool) -> Any:
    """The notebook as the handout shows it: no widget state; on paper, no screen-only lines or inputs."""
    notebook.metadata.pop("widgets", None)  # widgets are shown in their text form
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and not first:
            cell.source = SIMULATED_PARAGRAPH.sub(
                "<span class='kmslab-handout-same'>**What kmslab simulates here:** as in the note of notebook 00, "
                "In real AWS.</span>", cell.source)
        if cell.cell_type != "code":
            continue
        quiet = not cell.get("outputs") and all(SETUP_LINE.fullmatch(line) for line in cell.source.splitlines())
        if SCREEN_ONLY_CELL.fullmatch(cell.source.strip()) or quiet:
            cell.metadata.setdefault("tags", []).append("kmslab-screen-only")
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if isinstance(data.get("text/plain"), str):
                data["text/plain"] = SCREEN_ONLY_LINES.sub("", data["text/plain"])
            if isinstance(output.get("text"), str):
                output["text"] = SCREEN_ONLY_LINES.sub("", output["text"])
    return notebook


def _offline_head(page: str) -> str:
    """nbconvert's ``<head>`` kept to its styles: no script (require.js, MathJax, mermaid: all from a CDN)
    and no CSS comment (they cite web pages); the page needs nothing from the network."""
    head = page[page.index("<head>") + 6:page.index("</head>")]
    styles = re.findall(r"<style[^>]*>.*?</style>", head, flags=re.S)
    styles = [re.sub(r"/\*.*?\*/", "", style, flags=re.S) for style in styles]
    return ("<meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>kmslab workbook handout</title>" + "".join(styles))


def handout(args: argparse.Namespace) -> int:
    import nbformat
    from nbconvert import HTMLExporter

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise LabError(f"the handout is an HTML page: give --out a name ending in .html (not {out.name}); "
                       "nothing was written")
    if out.exists() and not out.is_file():
        raise LabError(f"{out} is not a file: nothing was written")
    if out.exists() and "<html" not in out.read_text(encoding="utf-8", errors="replace")[:2048].lower():
        raise LabError(f"{out} exists and is not an HTML page: nothing was overwritten")
    if not out.parent.is_dir():
        raise LabError(f"there is no folder {out.parent}: nothing was written")
    sources = _notebooks()
    exporter = HTMLExporter(template_name="lab")
    head, bodies, contents = "", [], []
    for index, source in enumerate(sources, 1):
        print(f"[{index}/{len(sources)}] {source.name}", flush=True)
        notebook = nbformat.reads(source.read_text(encoding="utf-8"), as_version=4)
        page, _ = exporter.from_notebook_node(_handout_notebook(notebook, first=index == 1))
        if not head:
            head = _offline_head(page)
        body = page[page.index(">", page.index("<body")) + 1:page.rindex("</body>")]
        body = re.sub(r"<script\b.*?</script>", "", body, flags=re.S)
        anchor = Path(source.name).stem
        title = _title_of(notebook) or anchor
        contents.append(f"<li><a href='#{anchor}'>{html.escape(title)}</a></li>")
        bodies.append(f"<section id='{anchor}' class='kmslab-handout-notebook'>{body}</section>")
    toc = ("<section class='kmslab-handout-contents'><h1>kmslab workbook: how a customer-managed KMS key "
           "protects a DynamoDB table</h1><h2>Contents</h2><ol>" + "".join(contents) + "</ol></section>")
    try:
        out.write_text(f"<!DOCTYPE html><html lang='en'><head>{head}<style>{HANDOUT_CSS}</style></head>"
                       f"<body class='jp-Notebook'><div class='kmslab-handout-columns'>{toc}{''.join(bodies)}</div>"
                       "</body></html>", encoding="utf-8")
    except OSError as error:
        raise LabError(f"could not write {out}: {error.strerror or error}") from None
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB, {len(sources)} notebooks)")
    return 0


def _title_of(notebook: object) -> str | None:
    for cell in notebook.cells:  # type: ignore[attr-defined]
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None
