#!/usr/bin/env python3
"""Set up what is missing, then open the workbook or run every test.

    python3 run.py lab      # JupyterLab on notebooks/ (as root too); Ctrl+C twice stops it
    python3 run.py test     # pytest: the library's tests and every notebook under nbval
    python3 run.py bench    # the benchmarks (prints ratios, writes docs/benchmarks.md)

Needs only Python 3.10+ and the package index. Everything is installed into ./.venv, once; it is
installed again only when pyproject.toml changes. Extra arguments go to the tool: pytest, or
`kmslab lab` (which passes JupyterLab's own options on: python3 run.py lab -- --port 8890).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".kmslab-installed"


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


def ensure_environment() -> Path:
    if sys.version_info < (3, 10):  # noqa: UP036 - this script must run, and say so, on an old Python
        sys.exit(f"kmslab needs Python 3.10 or newer; this is {sys.version.split()[0]}.")
    python = venv_python()
    if not python.exists():
        print("kmslab: creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print("kmslab: installing the workbook and its tools into .venv (about a minute, once) ...", flush=True)
        quiet = ["--quiet"] if os.environ.get("CI") else []
        subprocess.run([str(python), "-m", "pip", "install", *quiet, "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", *quiet, "-e", f"{ROOT}[test]"], check=True)
        STAMP.write_text(wanted)
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"lab", "test", "bench"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_environment()
    os.chdir(ROOT)
    if command == "lab":
        # kmslab's own command: adds --allow-root for root, prints the URL, says how to stop
        return subprocess.call([str(python), "-m", "kmslab", "lab", "--folder", "notebooks", *rest])
    if command == "test":
        return subprocess.call([str(python), "-m", "pytest", *rest])
    return subprocess.call([str(python), "benchmarks/run.py", *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
