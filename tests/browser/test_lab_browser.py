"""A person in JupyterLab, on Bookstore over the test Swift: Share… and Version history.

A real ``jupyter lab`` (subprocess, free port, token) and headless Chromium driven by
Playwright. The lab extension is the one built into ``src/bookstore/labextension``,
put first on ``JUPYTER_PATH`` so an installed copy can't hide a stale build.
Screenshots of the share dialog and the history panel land in ``artifacts/``
(``BOOKSTORE_DOC_SCREENSHOTS=1``: in ``docs/img/`` too).

These tests fail, never skip, when Chromium or Playwright are missing: run
``make test``, which installs them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
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


def _require_browser() -> None:
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

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory) -> Iterator[Lab]:
    _require_browser()  # before starting anything
    swift_aio = request.getfixturevalue("swift_aio")
    home = tmp_path_factory.mktemp("lab")
    container = unique("lab")
    share = home / "share"
    (share / "labextensions").mkdir(parents=True)
    (share / "labextensions" / "bookstore").symlink_to(BUILT)
    config = home / "config"
    (config / "labconfig").mkdir(parents=True)
    # Quiet, self-contained lab: no news toast, no nbdime git buttons, no state from ~.
    disabled = {
        "@jupyterlab/apputils-extension:announcements": True,
        "nbdime-jupyterlab": True,
    }
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": disabled})
    )
    (config / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "ServerApp": {"jpserver_extensions": {"bookstore": True, "nbdime": False}},
                "BookstoreContentsManager": {"store_url": f"swift://{container}/"},
                "SwiftStore": {
                    "auth_url": swift_aio.auth_url,
                    "user": swift_aio.user,
                    "key": swift_aio.key,
                },
            }
        )
    )
    # No "Rename file" prompt on the first save: the notebooks keep their Untitled names.
    docmanager = home / "settings" / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(
        json.dumps({"renameUntitledFileOnSave": False})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_PATH": str(share),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "HOME": str(home),
    }
    log = home / "lab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--allow-root",
        "--ServerApp.contents_manager_class=bookstore.BookstoreContentsManager",
        f"--ServerApp.root_dir={home}",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    running = Lab(url, token, log, container)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
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


def _snap(target, name: str) -> None:
    """A screenshot as a test artefact; with BOOKSTORE_DOC_SCREENSHOTS=1 also the docs'
    picture (not on every run: each would change the tree's PNGs)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    target.screenshot(path=str(path))
    if os.environ.get("BOOKSTORE_DOC_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / name)


def _open_new_notebook(page, lab: Lab) -> None:
    page.goto(f"{lab.url}/lab?reset&token={lab.token}")  # reset: no tabs of before
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.wait_for()
    # The kernel is irrelevant here; its dialogs would be in the way if it were slow.
    page.locator(".jp-NotebookPanel-toolbar").wait_for()


def _type_in_first_cell(page, text: str) -> None:
    editor = page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(text)


def _save(page) -> None:
    """Ctrl+S: JupyterLab saves, then makes a checkpoint; wait for both."""
    with page.expect_response(
        lambda r: "/checkpoints" in r.url and r.request.method == "POST" and r.ok
    ):
        page.keyboard.press("Control+s")


def test_share_a_notebook_and_open_the_link(lab):
    in_browser(lab, "share", lambda browser, page: _share_scenario(lab, browser, page))


def _share_scenario(lab: Lab, browser: Any, page: Any) -> None:
    _open_new_notebook(page, lab)
    _type_in_first_cell(page, "print('shared from the browser')")
    _save(page)

    page.locator(".jp-NotebookPanel-toolbar [data-jp-item-name='bookstore-share']").click()
    dialog = page.locator(".jp-Dialog .bookstore-share")
    dialog.wait_for()
    dialog.locator("text=Not shared yet.").wait_for()
    dialog.locator(".bookstore-share-expiry").select_option("1d")
    dialog.locator(".bookstore-share-create").click()
    link = dialog.locator(".bookstore-share-link input").first
    link.wait_for()
    url = link.input_value()
    assert "temp_url_sig=" in url
    viewer = dialog.locator(".bookstore-share-viewer input").first.input_value()
    assert viewer.startswith("https://nbviewer.org/url/127.0.0.1")
    _snap(page.locator(".jp-Dialog-content"), "share-dialog.png")

    # A stranger's browser: a fresh context, no cookie, no token.
    stranger = browser.new_context()
    try:
        shared = stranger.new_page()
        response = shared.goto(url)
        assert response is not None and response.status == 200
        assert "print('shared from the browser')" in shared.inner_text("body")
    finally:
        stranger.close()

    dialog.locator(".bookstore-share-unshare").first.click()
    dialog.locator("text=Not shared yet.").wait_for()
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(url, timeout=10)
    gone.value.close()
    assert gone.value.code == 404  # the snapshot is gone


def test_version_history_restores_an_older_version(lab):
    in_browser(lab, "history", lambda browser, page: _history_scenario(lab, page))


def _history_scenario(lab: Lab, page: Any) -> None:
    _open_new_notebook(page, lab)
    _type_in_first_cell(page, "print('version one')")
    _save(page)
    _type_in_first_cell(page, "print('version two')")
    _save(page)
    cells = page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first
    assert "version two" in cells.inner_text()

    page.locator(".jp-NotebookPanel-toolbar [data-jp-item-name='bookstore-history']").click()
    panel = page.locator("#bookstore-history")
    panel.wait_for()
    rows = panel.locator(".bookstore-version:not([data-id='current'])")
    rows.first.wait_for()
    # Find the checkpoint holding version one by viewing each, as a person would.
    target = None
    for n in range(rows.count()):
        version = rows.nth(n).get_attribute("data-id")
        rows.nth(n).locator(".bookstore-version-view").click()
        detail = panel.locator(f".bookstore-history-detail[data-shows='view:{version}']")
        if "version one" in detail.inner_text():
            target = rows.nth(n)
            break
    assert target is not None, panel.inner_text()
    target.locator(".bookstore-version-diff").click()
    panel.locator(f".bookstore-history-detail[data-shows='diff:{version}']").wait_for()
    panel.locator(".bookstore-diff-del", has_text="version one").wait_for()
    panel.locator(".bookstore-diff-add", has_text="version two").wait_for()
    _snap(page, "history-panel.png")

    target.locator(".bookstore-version-restore").click()
    page.locator(".jp-Dialog .jp-mod-warn", has_text="Restore").click()
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content", has_text="version one").wait_for()
    assert "version two" not in cells.inner_text()


def test_create_edit_save_rename_revert_lands_in_swift(lab, swift_aio):
    """The core promise: what a person does in JupyterLab is what Swift holds."""
    in_browser(lab, "core", lambda browser, page: _core_scenario(lab, page))
    from swiftclient.client import Connection

    conn = Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)
    try:
        _, objects = conn.get_container(lab.container, full_listing=True)
        names = [o["name"] for o in objects]
        assert "analysis.ipynb" in names
        _, body = conn.get_object(lab.container, "analysis.ipynb")
    finally:
        conn.close()
    assert "first draft" in body.decode() and "second draft" not in body.decode()
    assert any(n.startswith(".bookstore/checkpoints/analysis.ipynb/") for n in names)


def _core_scenario(lab: Lab, page: Any) -> None:
    _open_new_notebook(page, lab)
    _type_in_first_cell(page, "print('first draft')")
    _save(page)

    # Rename through the File menu, as a person would.
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-itemLabel", has_text="Rename Notebook").click()
    name_input = page.locator(".jp-Dialog input").first
    name_input.fill("analysis.ipynb")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.locator(".jp-DirListing-item[title*='analysis.ipynb']").first.wait_for()

    _type_in_first_cell(page, "print('second draft')")
    _save(page)  # saved, and a checkpoint of the second draft

    # Revert to the first draft's checkpoint: JupyterLab lists every checkpoint.
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-itemLabel", has_text="Revert Notebook to Checkpoint").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    _snap(dialog, "revert-dialog.png")
    # Newest first: the second draft, the first draft, the empty notebook it started as.
    assert dialog.locator("select option").count() == 3
    dialog.locator("select").select_option(index=1)
    dialog.locator(".jp-mod-accept").click()
    page.locator(".jp-Dialog .jp-mod-warn", has_text="Revert").click()
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content", has_text="first draft").wait_for()
