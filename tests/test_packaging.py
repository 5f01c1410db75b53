"""The project's own files install what it needs: pyproject.toml and environment.yml agree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

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


def test_the_github_workflow_runs_what_ci_runs():
    """The workflow calls .ci/run (the browser check included), caches pip, is bounded in time, reads only,
    tests every supported Python (Binder's 3.11 too), and pins each action by commit."""
    workflow = (ROOT / ".github" / "workflows" / "test.yml").read_text()
    steps = re.findall(r"^\s*- run: (.+)$", workflow, re.M)
    assert steps == [".ci/run"]
    assert re.search(r"^permissions:\n  contents: read$", workflow, re.M)
    assert re.search(r"^    timeout-minutes: \d+$", workflow, re.M)
    assert 'python: ["3.10", "3.11", "3.12"]' in workflow
    assert "cache: pip" in workflow
    uses = re.findall(r"uses: (\S+)", workflow)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action) for action in uses), uses
    assert ".ci/install-browser" in (ROOT / ".ci" / "run").read_text()


def test_binder_installs_the_library_in_place():
    post_build = (ROOT / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build
    assert (ROOT / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


# -- the sdist and the wheel, built and used as a packager and a learner would ------------------------------
#
# One build per test session (python -m build: the sdist, then the wheel built from that sdist, so a file
# the sdist forgets is missing from the wheel too). Building needs setuptools>=77 from the package index.

@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    egg_info = ROOT / "kmslab.egg-info"  # what making the sdist writes into the source tree
    had_egg_info = egg_info.exists()
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600, env=_clean_env())
    if not had_egg_info:
        shutil.rmtree(egg_info, ignore_errors=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("kmslab-*.whl")
    (sdist,) = out.glob("kmslab-*.tar.gz")
    return wheel, sdist


def _clean_env():
    """The environment without PYTHONPATH: the repository's kmslab must not stand in for the built one."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_the_wheel_carries_the_workbook_and_its_licence(dist):
    wheel, _ = dist
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for notebook in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        assert f"kmslab/_data/notebooks/{notebook.name}" in names
    assert "kmslab/_data/notebooks/mistakes/seed_table/dynamodb.tf" in names
    for tf in (ROOT / "terraform").glob("*.tf"):
        assert f"kmslab/_data/terraform/{tf.name}" in names
    assert "kmslab/workbook/text/05_least_privilege.toml" in names
    assert not [n for n in names if n.endswith(".md") and "_data/notebooks" in n], "text sources stay out"
    # PEP 639: the licence as an SPDX expression, and its file inside the wheel
    assert "License-Expression: Apache-2.0" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_licence_file_is_the_apache_2_0_text():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_sdist_runs_its_own_tests(dist, tmp_path):
    """Unpacked anywhere, the sdist has the tests and what they read (fixtures, notebooks, terraform)."""
    _, sdist = dist
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data") if hasattr(tarfile, "data_filter") else archive.extractall(tmp_path)
    (root,) = tmp_path.glob("kmslab-*")
    assert (root / "tests" / "fixtures").is_dir() and (root / "conftest.py").is_file()
    env = {**_clean_env(), "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
         # quick tests that read what only the sdist's extra files give: notebooks/, tools/, tests/fixtures
         "tests/test_notebook_sources.py", "tests/test_terraform_validation.py", "-k",
         "not test_terraform_validation or refused_before_any_aws_call"],
        cwd=root, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_the_installed_wheel_runs_doctor_and_a_learner_copy_of_a_notebook(dist, tmp_path):
    """pip install <wheel> in a fresh venv, then from an empty folder: kmslab doctor, kmslab reset, notebook 02.

    The fresh venv borrows this environment's installed dependencies (a path in a .pth file), so no
    network is needed; kmslab itself comes only from the wheel.
    """
    wheel, _ = dist
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    fresh_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True).stdout.strip()
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                           "--no-index", "--quiet", str(wheel)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=_clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    # only now: pip would take the borrowed environment's own kmslab for "already installed"
    (Path(fresh_site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "somewhere"
    work.mkdir()
    env = _clean_env()
    where = subprocess.run([str(python), "-c", "import kmslab; print(kmslab.__file__)"], cwd=work,
                           capture_output=True, text=True, env=env)
    assert where.stdout.startswith(fresh_site), where.stdout + where.stderr

    kmslab = [str(python), "-m", "kmslab"]
    doctor = subprocess.run([*kmslab, "doctor"], cwd=work, capture_output=True, text=True, env=env, timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    count = len(list((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert f"[ OK ] notebooks: {count} valid notebooks in the installed package" in doctor.stdout
    assert "[ OK ] bundled Terraform: valid" in doctor.stdout

    reset = subprocess.run([*kmslab, "reset", "copy"], cwd=work, capture_output=True, text=True, env=env)
    assert reset.returncode == 0, reset.stderr
    run_02 = (
        "import nbformat\n"
        "from nbclient import NotebookClient\n"
        "nb = nbformat.read('02_build_the_locked_table.ipynb', as_version=4)\n"
        "NotebookClient(nb, timeout=300, kernel_name='python3', resources={'metadata': {'path': '.'}}).execute()\n"
        "errors = [o for c in nb.cells for o in c.get('outputs', []) if o.get('output_type') == 'error']\n"
        "print('errors:', len(errors))\n"
    )
    ran = subprocess.run([str(python), "-c", run_02], cwd=work / "copy" / "notebooks", capture_output=True,
                         text=True, env=env, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "errors: 0" in ran.stdout
