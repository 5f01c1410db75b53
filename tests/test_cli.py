"""The kmslab command: each sub-command from a clean clone, errors as one sentence."""

from __future__ import annotations

import subprocess
import sys

import nbformat

from kmslab import __main__ as cli
from kmslab._commands import NOTEBOOKS


def test_doctor_passes_on_this_machine(capsys):
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "[ OK ] python-hcl2 8." in out
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


def test_reset_writes_clean_copies_and_never_overwrites_silently(tmp_path, capsys):
    assert cli.main(["reset", str(tmp_path)]) == 0
    copies = sorted(tmp_path.glob("*.ipynb"))
    assert [p.name for p in copies] == sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in copies:
        notebook = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
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


def test_handout_is_one_static_page_with_contents(tmp_path):
    out = tmp_path / "handout.html"
    assert cli.main(["handout", "--out", str(out)]) == 0
    page = out.read_text()
    assert "<h2>Contents</h2>" in page
    for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"):
        assert f"id='{path.stem}'" in page and f"href='#{path.stem}'" in page
    assert "AccessDeniedException" in page  # stored outputs, readable with no kernel
    assert "application/vnd.jupyter.widget-view+json" not in page


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
