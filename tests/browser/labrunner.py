"""Running JupyterLab on Bookstore for browser tests: the server, and Playwright on it.

A real ``jupyter lab`` (subprocess, free port, token) over the test Swift, and
headless Debian Chromium driven by Playwright's sync API in its own thread. The lab
extension is the one built into ``src/bookstore/labextension``, put first on
``JUPYTER_PATH`` so an installed copy can't hide a stale build.

The tests fail, never skip, when Chromium or Playwright are missing: run
``make test``, which installs them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kinds import unique

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = HERE / "artifacts"
DOCS_IMG = ROOT / "docs" / "img"
BUILT = ROOT / "src" / "bookstore" / "labextension"
CHROMIUM = os.environ.get("BOOKSTORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "run `make test` (it installs them), or by hand: "
    "`apt-get install -y chromium` (as root) and `.venv/bin/pip install playwright`"
)
TIMEOUT_MS = 60_000  # generous: CI shares 2 cores with other test runs
SCENARIO_TIMEOUT = 180


def require_browser() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail(f"Playwright for Python is not installed: {INSTALL_HINT}", pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is not at {CHROMIUM}: {INSTALL_HINT}", pytrace=False)
    if not (BUILT / "package.json").is_file():
        pytest.fail(
            f"the lab extension is not built in {BUILT}: "
            "cd labextension && npm install && npm run build:prod",
            pytrace=False,
        )


@dataclass
class Lab:
    url: str
    token: str
    log: Path
    container: str
    home: Path  # HOME and working directory of the server: what it writes locally lands here

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_lab(
    swift_aio: Any,
    home: Path,
    *,
    rtc: bool = False,
    config: dict | None = None,
    app: str = "jupyterlab",
) -> Iterator[Lab]:
    """``jupyter lab`` (``app="notebook"``: Notebook 7) on Bookstore over ``swift_aio``,
    in a new container.

    ``rtc``: with real-time collaboration (jupyter-collaboration) on; off, JupyterLab
    works on documents alone, as without the extra. ``config``: more server config.
    """
    require_browser()  # before starting anything
    container = unique("lab")
    share = home / "share"
    (share / "labextensions").mkdir(parents=True)
    (share / "labextensions" / "bookstore").symlink_to(BUILT)
    config_dir = home / "config"
    (config_dir / "labconfig").mkdir(parents=True)
    # Quiet, self-contained lab: no news toast, no nbdime git buttons, no state from ~.
    disabled = {
        "@jupyterlab/apputils-extension:announcements": True,
        "nbdime-jupyterlab": True,
    }
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": disabled})
    )
    server_config = {
        "ServerApp": {"jpserver_extensions": {"bookstore": True, "nbdime": False}},
        "BookstoreContentsManager": {"store_url": f"swift://{container}/"},
        "SwiftStore": {
            "auth_url": swift_aio.auth_url,
            "user": swift_aio.user,
            "key": swift_aio.key,
        },
        "YDocExtension": {"disable_rtc": not rtc},
    }
    for section, values in (config or {}).items():
        server_config.setdefault(section, {}).update(values)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(server_config))
    # No "Rename file" prompt on the first save: the notebooks keep their Untitled names.
    docmanager = home / "settings" / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(
        json.dumps({"renameUntitledFileOnSave": False})
    )
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_PATH": str(share),
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "HOME": str(home),
    }
    log = home / "lab.log"
    frontend = "LabApp" if app == "jupyterlab" else "JupyterNotebookApp"
    command = [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--allow-root",
        "--ServerApp.contents_manager_class=bookstore.BookstoreContentsManager",
        f"--ServerApp.root_dir={home}",
        f"--{frontend}.user_settings_dir={home / 'settings'}",
        f"--{frontend}.workspaces_dir={home / 'workspaces'}",
    ]
    if app == "jupyterlab":
        command.append("--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    running = Lab(url, token, log, container, home)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # A listing, not /api/status: its container exists once this answers
                # (the server creates it in the background at start).
                with urllib.request.urlopen(f"{url}/api/contents?token={token}", timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not start:\n{running.tail()}", pytrace=False)
                time.sleep(0.3)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def in_browser(lab: Lab, name: str, scenario: Callable[[Any, Any], None]) -> None:
    """Run ``scenario(browser, page)`` in its own thread: Playwright's sync API keeps an
    event loop running in its thread, which must not be the one pytest-jupyter owns."""
    failures: list[BaseException] = []
    page_errors: list[str] = []

    def run() -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                context.set_default_timeout(TIMEOUT_MS)
                page = context.new_page()
                page.on("pageerror", lambda exc: page_errors.append(str(exc)))
                try:
                    scenario(browser, page)
                except BaseException as exc:
                    failures.append(exc)
                    ARTIFACTS.mkdir(exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"))
            finally:
                browser.close()

    thread = threading.Thread(target=run, name=f"browser-{name}", daemon=True)
    thread.start()
    thread.join(SCENARIO_TIMEOUT)
    if thread.is_alive():
        pytest.fail(f"the browser scenario {name} hung\n--- lab log ---\n{lab.tail()}")
    if failures:
        print(f"page errors: {page_errors}\n--- lab log ---\n{lab.tail()}")
        raise failures[0]


def snap(target: Any, name: str) -> None:
    """A screenshot as a test artefact; with BOOKSTORE_DOC_SCREENSHOTS=1 also the docs'
    picture (not on every run: each would change the tree's PNGs)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    target.screenshot(path=str(path))
    if os.environ.get("BOOKSTORE_DOC_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / name)


def version_showing(panel: Any, ids: list[str], text: str) -> tuple[Any, str]:
    """View each version of the history panel, as a person would, until one shows ``text``;
    then its Diff must show ``text`` deleted. Rows are found by id: the list re-renders
    when a late checkpoint lands on top. Returns the row and its id."""
    for version in ids:
        row = panel.locator(f".bookstore-version[data-id='{version}']")
        row.locator(".bookstore-version-view").click()
        detail = panel.locator(f".bookstore-history-detail[data-shows='view:{version}']")
        if text in detail.inner_text():
            row.locator(".bookstore-version-diff").click()
            panel.locator(f".bookstore-history-detail[data-shows='diff:{version}']").wait_for()
            panel.locator(".bookstore-diff-del", has_text=text).wait_for()
            return row, version
    raise AssertionError(f"no version shows {text!r}: {panel.inner_text()}")
