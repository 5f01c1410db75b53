"""Fixtures of the real-browser check: a JupyterLab server on 127.0.0.1 and Debian's Chromium.

The check skips, with one clear message, when Chromium is not on PATH or Playwright is not installed;
nothing else in the test suite depends on it. Everything here is bounded by a timeout and the server is
always stopped (its whole process group, kernels included).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

SKIP_MESSAGE = ("browser check skipped: {why} (install it with .ci/install-browser, or: "
                "apt-get install chromium; python -m pip install playwright)")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

# JupyterLab has started and the commands the test runs are registered (their plugins are activated)
LAB_READY = """() => !!(window.jupyterapp && window.jupyterapp.commands
    && window.jupyterapp.commands.hasCommand('docmanager:open')
    && window.jupyterapp.commands.hasCommand('notebook:run-all-cells'))"""

SERVER_START_TIMEOUT = 60  # seconds until /api/status answers
SERVER_STOP_TIMEOUT = 15  # seconds for a clean shutdown before the process group is killed


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives JupyterLab in Chromium (skips without chromium/playwright)")


def _missing() -> str | None:
    """Why the check cannot run here, or None."""
    reasons = []
    if shutil.which("chromium") is None:
        reasons.append("no chromium on PATH")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reasons.append("playwright not installed")
    return " and ".join(reasons) or None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


class LabServer:
    """A JupyterLab server over a temporary copy of ``notebooks/``, with its own Jupyter config dirs."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "notebooks"
        shutil.copytree(NOTEBOOKS, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / "jupyterlab.log"
        config = base / "jupyter-config"
        # Settings for this server only (the user's own ~/.jupyter is never read or written):
        # no news pop-up (the announcements plugin is disabled, as `jupyter labextension disable` would
        # do, but in the temporary config dir), and every cell kept in the page (no windowing), so that
        # the page can be searched for error outputs and widgets in cells below the fold.
        _write_json(config / "labconfig" / "page_config.json",
                    {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
        settings = config / "lab" / "user-settings" / "@jupyterlab"
        _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings",
                    {"windowingMode": "none"})
        _write_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
                    {"fetchNews": "false", "checkForUpdates": False})
        self.env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_DATA_DIR": str(base / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
            "IPYTHONDIR": str(base / "ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("KMSLAB_TARGET", None)  # the notebooks run offline here
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=None",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
            command.append("--allow-root")
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.process = subprocess.Popen(command, cwd=self.root, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n{self.log_tail()}")

    def lab_url(self, path: str = "") -> str:
        return f"{self.url}/lab{('/tree/' + path) if path else ''}?token={self.token}&reset"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            try:  # the clean way: the server shuts its kernels down, then exits
                request = urllib.request.Request(f"{self.url}/api/shutdown?token={self.token}", method="POST",
                                                 data=b"")
                urllib.request.urlopen(request, timeout=5).close()
            except (urllib.error.URLError, OSError):
                pass
            try:
                process.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        # whatever is left of the group this server started (kernels included): SIGTERM, then SIGKILL
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(1)
        if process.poll() is None:
            process.kill()
            process.wait(5)
        self._log.close()
        self.process = None


@pytest.fixture(scope="session")
def lab_server():
    why = _missing()
    if why:
        pytest.skip(SKIP_MESSAGE.format(why=why))
    with tempfile.TemporaryDirectory(prefix="kmslab-browser-") as tmp:
        server = LabServer(Path(tmp))
        try:
            server.start()
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def browser(lab_server):
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="kmslab-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000}, timeout=60_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def lab_page(browser, lab_server):
    """One JupyterLab page, loaded and ready (``window.jupyterapp`` started)."""
    page = browser.pages[0] if browser.pages else browser.new_page()
    page.set_default_timeout(30_000)
    page.goto(lab_server.lab_url(), wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_function(LAB_READY, timeout=60_000)
    page.evaluate("() => window.jupyterapp.restored")
    yield page


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
