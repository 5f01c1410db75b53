"""The project's own files install what it needs: pyproject.toml and environment.yml agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the check needs to run on one version only

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements):
    return {re.split(r"[\[<>=~! ;]", r.strip().strip('"'), maxsplit=1)[0].lower() for r in requirements}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {r.strip() for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    yml_pins = set(re.findall(r'^\s*-\s*"([^"]+)"\s*$', (ROOT / "environment.yml").read_text(), re.M))
    assert yml_pins == wanted


def test_python_hcl2_is_pinned_to_8():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "python-hcl2>=8,<9" in project["dependencies"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 run.py test" in readme
    assert "python3 run.py test" in ci


def test_binder_installs_the_library_in_place():
    post_build = (ROOT / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build
    assert (ROOT / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
