"""A person in JupyterLab, on Bookstore over the test Swift: Share… and Version history.

Screenshots of the share dialog and the history panel land in ``artifacts/``
(``BOOKSTORE_DOC_SCREENSHOTS=1``: in ``docs/img/`` too). How the lab and the browser
run: ``labrunner.py``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from labrunner import Lab, in_browser, running_lab, snap, version_showing


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory) -> Iterator[Lab]:
    swift_aio = request.getfixturevalue("swift_aio")
    with running_lab(swift_aio, tmp_path_factory.mktemp("lab")) as running:
        yield running


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
    snap(page.locator(".jp-Dialog-content"), "share-dialog.png")

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
    ids = [rows.nth(n).get_attribute("data-id") for n in range(rows.count())]
    target, _ = version_showing(panel, ids, "version one")
    panel.locator(".bookstore-diff-add", has_text="version two").wait_for()
    snap(page, "history-panel.png")

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
    snap(dialog, "revert-dialog.png")
    # Newest first: the second draft, the first draft, the empty notebook it started as.
    assert dialog.locator("select option").count() == 3
    dialog.locator("select").select_option(index=1)
    dialog.locator(".jp-mod-accept").click()
    page.locator(".jp-Dialog .jp-mod-warn", has_text="Revert").click()
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content", has_text="first draft").wait_for()
