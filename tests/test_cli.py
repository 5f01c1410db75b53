"""The kmslab command: each sub-command from a clean clone, errors as one sentence."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from kmslab import __main__ as cli
from kmslab import _commands

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_doctor_passes_on_this_machine(capsys):
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "[ OK ] python-hcl2 8." in out
    count = len(list((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert f"[ OK ] notebooks: {count} valid notebooks in this clone" in out
    assert "[ OK ] notebooks/mistakes/seed_table" in out
    # the bundled stack on an empty lab: the key, the table, the user, its access key, its policy attachment
    assert "[ OK ] bundled Terraform: valid; on an empty lab: Plan: 5 to add, 0 to change, 0 to destroy." in out
    assert "[ OK ] target offline: reachable as arn:aws:iam::123456789012:user/lab-admin" in out
    assert "[FAIL]" not in out


def test_doctor_reports_a_failure_with_what_to_do(capsys, monkeypatch):
    monkeypatch.delenv("KMSLAB_ALLOW_REAL_AWS", raising=False)
    assert cli.main(["doctor", "--target", "aws"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] target aws:" in out and "what to do:" in out


def test_python_dash_m_kmslab_works():
    done = subprocess.run([sys.executable, "-m", "kmslab", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "doctor" in done.stdout


def test_doctor_reports_a_broken_notebook_and_a_missing_terraform_file(tmp_path, monkeypatch, capsys):
    broken = tmp_path / "notebooks"
    (broken / "mistakes" / "seed_table").mkdir(parents=True)
    (broken / "00_welcome.ipynb").write_text("{not json")
    (tmp_path / "terraform").mkdir()
    (tmp_path / "terraform" / "kms.tf").write_text("")
    monkeypatch.setattr(_commands._resources, "notebooks_folder", lambda: broken)
    monkeypatch.setattr(_commands._resources, "terraform_folder", lambda: tmp_path / "terraform")
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] notebooks: 00_welcome.ipynb: " in out
    assert "[FAIL] notebooks/mistakes/seed_table" in out
    assert "[FAIL] bundled Terraform: versions.tf, providers.tf, variables.tf, dynamodb.tf, iam.tf, outputs.tf missing" in out


def test_reset_copies_everything_a_notebook_needs(tmp_path):
    """Notebook 02 reads mistakes/seed_table; every notebook applies ../terraform: both are in the copy."""
    assert cli.main(["reset", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "notebooks" / "mistakes" / "seed_table").iterdir()) == [
        "dynamodb.tf", "kms.tf"]
    assert {p.name for p in (tmp_path / "terraform").glob("*.tf")} == {p.name for p in (NOTEBOOKS.parent / "terraform").glob("*.tf")}
    assert not list((tmp_path / "notebooks").glob("*.md")), "the text sources are for maintainers"


def test_reset_writes_clean_copies_and_never_overwrites_silently(tmp_path, capsys):
    assert cli.main(["reset", str(tmp_path)]) == 0
    copies = sorted((tmp_path / "notebooks").glob("*.ipynb"))
    assert [p.name for p in copies] == sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in copies:
        notebook = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
        assert "widgets" not in notebook.metadata  # no saved widget state (tens of KB, and stale)
    stored_with_widgets = [p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if '"widgets"' in p.read_text()]
    assert stored_with_widgets, "the check above needs a stored notebook that has widget state"
    # the learner works in a copy...
    first = copies[0]
    notebook = nbformat.read(first, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    nbformat.write(notebook, first)
    # ...and a second reset refuses to lose that work (no terminal to ask on)
    assert cli.main(["reset", str(tmp_path)]) == 1
    assert "nothing was overwritten" in capsys.readouterr().err
    assert "my notes" in first.read_text()
    assert cli.main(["reset", str(tmp_path), "--force"]) == 0
    assert "my notes" not in first.read_text()


def test_lab_as_root_adds_allow_root_and_says_so(monkeypatch, tmp_path):
    """JupyterLab refuses root without --allow-root ("Running as root is not recommended")."""
    monkeypatch.setattr(os, "geteuid", lambda: 0, raising=False)
    command, said = _commands.lab_command(tmp_path, ["--port", "8890"])
    assert command[-3:] == ["--port", "8890", "--allow-root"]
    assert said == ["kmslab: you are root here, so JupyterLab starts with --allow-root (it refuses root without it)."]
    command, said = _commands.lab_command(tmp_path, ["--allow-root"])
    assert command.count("--allow-root") == 1 and said == []
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    command, said = _commands.lab_command(tmp_path, [])
    assert "--allow-root" not in command and said == []


def test_lab_passes_jupyterlab_options_through(monkeypatch, tmp_path):
    seen = []

    class FakeProcess:
        pid = -1

        def __init__(self, command):
            seen.append(command)

        def wait(self):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(_commands.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    assert cli.main(["lab", "--folder", str(tmp_path), "--no-browser", "--", "--port", "8890", "--help"]) == 0
    assert seen[0][-5:] == [str(tmp_path), "--no-browser", "--port", "8890", "--help"]
    assert cli.main(["lab", "--folder", str(tmp_path / "missing")]) == 1


def test_lab_installed_makes_a_learner_copy_in_a_named_folder(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(_commands._resources, "in_checkout", lambda: False)
    monkeypatch.setattr(_commands._resources, "_data", lambda name: NOTEBOOKS.parent / name)
    monkeypatch.chdir(tmp_path)
    folder = _commands._lab_folder(cli._parser().parse_args(["lab"]))
    assert folder == Path("kmslab-workbook")
    assert "your copy of the workbook is in kmslab-workbook/" in capsys.readouterr().out
    assert (tmp_path / "kmslab-workbook" / "notebooks" / "04_the_denied_user.ipynb").is_file()
    assert _commands._lab_folder(cli._parser().parse_args(["lab"])) == folder  # the second time: reused
    assert "opening your copy of the workbook in kmslab-workbook/" in capsys.readouterr().out


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(os.name != "posix", reason="stops the server with a POSIX signal")
def test_kmslab_lab_really_starts_and_prints_its_url(tmp_path):
    """The real JupyterLab, as whoever runs the tests (root in CI: then --allow-root is what lets it start)."""
    import signal

    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "PYTHONPATH": str(NOTEBOOKS.parent)}
    process = subprocess.Popen(
        [sys.executable, "-m", "kmslab", "lab", "--folder", str(tmp_path), "--", "--no-browser",
         f"--port={_free_port()}", "--ip=127.0.0.1", "--ServerApp.port_retries=0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("kmslab: JupyterLab is running at http://127.0.0.1:"):
                break
        assert any(line.startswith("kmslab: JupyterLab is running at http://127.0.0.1:") for line in lines), lines
        assert "?token=" in lines[-1]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout") / "handout.html"
    assert cli.main(["handout", "--out", str(out)]) == 0
    return out


def test_handout_is_one_static_page_with_contents(handout):
    page = handout.read_text()
    assert "<h2>Contents</h2>" in page
    for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"):
        assert f"id='{path.stem}'" in page and f"href='#{path.stem}'" in page
    assert "AccessDeniedException" in page  # stored outputs, readable with no kernel
    assert "application/vnd.jupyter.widget-view+json" not in page


def test_handout_references_no_remote_url(handout):
    """Offline, nothing may be fetched: no script at all (nbconvert's require.js, MathJax and mermaid come
    from a CDN), and no src, href, CSS url() or @import that leaves the file."""
    page = handout.read_text()
    assert "<script" not in page
    remote = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.I)
    references = re.findall(r"""\b(?:src|href|srcset|action|poster|data)\s*=\s*["']([^"']*)["']""", page, re.I)
    references += re.findall(r"""url\(\s*["']?([^"')]*)""", page, re.I)
    references += re.findall(r"""@import\s+["']([^"']+)""", page, re.I)
    assert references, "the check must see the page's references (the contents links at least)"
    assert [r for r in references if remote.match(r) and not r.startswith("data:")] == []
    assert "https://" not in page and "http://" not in page


def test_handout_on_paper_drops_screen_only_text_and_says_the_simulation_note_once(handout):
    page = handout.read_text()
    assert "Answer with the buttons" not in page and "No try yet: change a setting" not in page
    assert page.count("AWS is emulated by moto inside this Python process") == 1
    assert page.count("as in the note of notebook 00") == len(list(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))) - 1
    assert page.count("celltag_kmslab-screen-only") >= 12  # each quiz(N, M).widget() cell: 2 in 01 to 06
    assert "@media print" in page and "white-space:pre-wrap" in page and "word-break:normal" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (.ci/install-browser installs it)")
def test_handout_prints_in_under_30_a4_pages(handout, tmp_path):
    pdf = tmp_path / "handout.pdf"
    done = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                           f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}", handout.as_uri()],
                          capture_output=True, text=True, timeout=300)
    assert pdf.is_file(), done.stderr[-2000:]
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    assert re.search(rb"/MediaBox\s*\[\s*0 0 84[12]\.?\d* 59[45]\.?\d*", data), "A4 landscape (842 x 595 points)"
    # Issue 15's bound, for the whole workbook (twelve notebooks): two columns on landscape A4.
    notebooks = len(list((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert notebooks // 2 <= pages < 30, (pages, notebooks)


def test_status_offline_lists_the_steps(capsys):
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "nothing is left behind" in out and "04_the_denied_user" in out


def test_cleanup_refuses_without_opt_in(capsys, monkeypatch):
    monkeypatch.delenv("KMSLAB_ALLOW_REAL_AWS", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: never the real AWS
    assert cli.main(["cleanup", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kmslab cleanup: ") and "Traceback" not in err
    assert err.count("\n") == 1  # one line, not a traceback


@pytest.mark.parametrize("argv, message", [
    (["reset", "{tmp}/a-file"], "is a file, not a folder"),
    (["handout", "--out", "{tmp}/learner/01_forge_the_key.ipynb"], "give --out a name ending in .html"),
    (["handout", "--out", "{tmp}/no/such/folder/h.html"], "there is no folder"),
    (["handout", "--out", "{tmp}/notes.html"], "is not an HTML page: nothing was overwritten"),
])
def test_bad_destinations_get_one_sentence_and_lose_nothing(tmp_path, capsys, argv, message):
    from kmslab.__main__ import main
    (tmp_path / "a-file").write_text("keep me")
    (tmp_path / "learner").mkdir()
    (tmp_path / "learner" / "01_forge_the_key.ipynb").write_text("{}")
    (tmp_path / "notes.html").write_text("my notes")
    assert main([part.format(tmp=tmp_path) for part in argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert (tmp_path / "a-file").read_text() == "keep me"
    assert (tmp_path / "learner" / "01_forge_the_key.ipynb").read_text() == "{}"
    assert (tmp_path / "notes.html").read_text() == "my notes"
