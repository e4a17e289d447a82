"""Bookstore's Share… dialog and Version history panel in Notebook 7, not only JupyterLab.

The lab extension is one build for both front ends. Notebook 7 has its own shell: one
document per page (``/notebooks/<path>``), a file browser page (``/tree``), and side
panels that stay hidden until something opens them. A person reaches Bookstore there
through what the page shows: the file browser's context menu, the notebook toolbar's
"Share…" and history buttons, and the command palette. What they do is checked against
what Swift holds, read with swiftclient; share links are fetched with no credentials.

How the server and the browser run: ``labrunner.py``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from labrunner import Lab, in_browser, running_lab, snap, version_showing
from nbformat.v4 import new_code_cell, new_notebook
from swiftclient.client import Connection

CELLS = ".jp-NotebookPanel .jp-Cell .cm-content"
TOOLBAR = ".jp-NotebookPanel-toolbar"
CHECKPOINTS = ".bookstore/checkpoints/"
BUNDLE = "/extensions/bookstore/"  # where the front end loads the lab extension from


@pytest.fixture(scope="module")
def notebook7(request, tmp_path_factory) -> Iterator[Lab]:
    swift_aio = request.getfixturevalue("swift_aio")
    with running_lab(swift_aio, tmp_path_factory.mktemp("nb7panels"), app="notebook") as lab:
        yield lab


def _put_notebook(swift: Connection, container: str, name: str, source: str) -> None:
    nb = new_notebook(cells=[new_code_cell(source)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    swift.put_object(container, "work/", b"", content_type="application/x-directory")
    swift.put_object(container, name, nbformat.writes(nb).encode())


def _run_scenario(
    lab: Lab, swift: Connection, name: str, source: str, tag: str, scenario: Any
) -> dict[str, Any]:
    """Put a one-cell notebook ``name``, run ``scenario(lab, swift, name, page, out)`` in a
    browser, and return what it left in ``out``."""
    _put_notebook(swift, lab.container, name, source)
    out: dict[str, Any] = {}
    in_browser(lab, tag, lambda browser, page: scenario(lab, swift, name, page, out))
    return out


def _stored(swift: Connection, container: str, name: str) -> bytes:
    return swift.get_object(container, name)[1]


def _checkpoints(swift: Connection, container: str, name: str) -> list[str]:
    """The ids of ``name``'s checkpoints in Swift, oldest first (ids sort by time)."""
    prefix = f"{CHECKPOINTS}{name}/"
    _, objects = swift.get_container(container, prefix=prefix, full_listing=True)
    return sorted(o["name"][len(prefix) :] for o in objects)


def _open_notebook(page: Any, lab: Lab, name: str, expect: str) -> Any:
    """Open ``name`` and wait until its kernel is connected and idle.

    Notebook 7 focuses the notebook again as the kernel starts: a command palette open
    then closes (it hides when it loses the focus), keys typed into a cell then land in
    command mode. Once the kernel's websocket is up and the kernel idle, that is past.
    """
    with page.expect_websocket(lambda ws: "/api/kernels/" in ws.url):
        page.goto(f"{lab.url}/notebooks/{name}?token={lab.token}")
    editor = page.locator(CELLS, has_text=expect).first
    editor.wait_for()
    page.locator(TOOLBAR).wait_for()
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    return editor


def _type_in_first_cell(page: Any, text: str) -> None:
    page.locator(CELLS).first.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(text)


def _save(page: Any, name: str) -> None:
    """Ctrl+S: Notebook 7 saves (PUT), then makes a checkpoint (POST); wait for both."""
    with (
        page.expect_response(
            lambda r: (
                f"/api/contents/{name}/checkpoints" in r.url and r.request.method == "POST" and r.ok
            )
        ),
        page.expect_response(
            lambda r: (
                r.url.split("?")[0].endswith(f"/api/contents/{name}")
                and r.request.method == "PUT"
                and r.ok
            )
        ),
    ):
        page.keyboard.press("Control+s")


def _bookstore_errors(page: Any) -> list[str]:
    """Uncaught errors thrown by Bookstore's own bundle (Notebook 7 has others of its own,
    with or without Bookstore: they are not this test's business)."""
    errors: list[str] = []

    def seen(error: Any) -> None:
        if BUNDLE in (error.stack or ""):
            errors.append(f"{error.message}\n{error.stack}")

    page.on("pageerror", seen)
    return errors


def _fetch(url: str) -> tuple[int, str, bytes]:
    """GET ``url`` as a stranger would: no cookie, no token."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


# --- Share… ------------------------------------------------------------------------


def test_share_from_the_tree_and_the_notebook_toolbar(notebook7, swift):
    name = "work/shared.ipynb"
    found = _run_scenario(
        notebook7,
        swift,
        name,
        "print('shared from Notebook 7')",
        "notebook7-share",
        _share_scenario,
    )
    # Unshared in the notebook view: the link is dead for everyone.
    with pytest.raises(urllib.error.HTTPError) as gone:
        _fetch(found["url"])
    gone.value.close()
    assert gone.value.code == 404


def _share_scenario(lab: Lab, swift: Connection, name: str, page: Any, found: dict) -> None:
    errors = _bookstore_errors(page)
    # 1. The file browser page: right-click the notebook, "Share…".
    page.goto(f"{lab.url}/tree/work?token={lab.token}")
    item = page.locator(".jp-DirListing-item", has_text="shared.ipynb").first
    item.click(button="right")
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text="Share…").click()
    dialog = page.locator(".jp-Dialog .bookstore-share")
    dialog.wait_for()
    assert dialog.locator(".bookstore-share-path code").inner_text() == name
    dialog.locator("text=Not shared yet.").wait_for()
    dialog.locator(".bookstore-share-expiry").select_option("1d")
    dialog.locator(".bookstore-share-create").click()
    link = dialog.locator(".bookstore-share-link input").first
    link.wait_for()
    url = found["url"] = link.input_value()
    assert "temp_url_sig=" in url, url
    assert dialog.locator(".bookstore-share-item").count() == 1
    snap(page.locator(".jp-Dialog-content"), "notebook7-share-dialog.png")

    # The link serves the notebook, byte for byte what Swift holds, to anyone.
    status, content_type, body = _fetch(url)
    assert status == 200
    assert content_type.startswith("application/json"), content_type
    assert body == _stored(swift, lab.container, name)
    shared = nbformat.reads(body.decode(), 4)
    assert shared.cells[0].source == "print('shared from Notebook 7')"
    page.locator(".jp-Dialog .jp-mod-accept", has_text="Close").click()
    dialog.wait_for(state="detached")

    # 2. The notebook page: the toolbar's "Share…" shows the same share, which unshares.
    _open_notebook(page, lab, name, "shared from Notebook 7")
    button = page.locator(f"{TOOLBAR} [data-jp-item-name='bookstore-share']")
    assert button.is_visible(), "no visible Share… button in Notebook 7's notebook toolbar"
    button.click()
    dialog.wait_for()
    assert dialog.locator(".bookstore-share-path code").inner_text() == name
    assert dialog.locator(".bookstore-share-link input").first.input_value() == url
    dialog.locator(".bookstore-share-unshare").first.click()
    dialog.locator("text=Not shared yet.").wait_for()
    assert dialog.locator(".bookstore-share-item").count() == 0
    assert not errors, errors


# --- Version history ---------------------------------------------------------------


def test_version_history_panel_lists_and_restores(notebook7, swift):
    name = "work/history.ipynb"
    seen = _run_scenario(notebook7, swift, name, "a = 0", "notebook7-history", _history_scenario)
    # Swift holds version one again; what it replaced (version two) is a new checkpoint.
    stored = nbformat.reads(_stored(swift, notebook7.container, name).decode(), 4)
    assert stored.cells[0].source == "print('version one')"
    after = _checkpoints(swift, notebook7.container, name)
    assert len(after) == len(seen["before"]) + 1, (seen["before"], after)
    newest = _stored(swift, notebook7.container, f"{CHECKPOINTS}{name}/{after[-1]}")
    assert after[-1] not in seen["before"]
    assert nbformat.reads(newest.decode(), 4).cells[0].source == "print('version two')"


def _history_scenario(lab: Lab, swift: Connection, name: str, page: Any, seen: dict) -> None:
    errors = _bookstore_errors(page)
    _open_notebook(page, lab, name, "a = 0")
    _type_in_first_cell(page, "print('version one')")
    _save(page, name)
    _type_in_first_cell(page, "print('version two')")
    _save(page, name)
    cells = page.locator(CELLS).first
    assert "version two" in cells.inner_text()
    before = seen["before"] = _checkpoints(swift, lab.container, name)
    assert len(before) >= 2, before  # one per Ctrl+S at least

    # Notebook 7 keeps its side panels hidden: the toolbar button opens the right one.
    panel = page.locator("#jp-right-stack #bookstore-history")
    assert not panel.is_visible()
    page.locator(f"{TOOLBAR} [data-jp-item-name='bookstore-history']").click()
    panel.wait_for(state="visible")
    assert panel.locator(".bookstore-history-path").inner_text() == name
    panel.locator(".bookstore-version[data-id='current']").wait_for()
    rows = panel.locator(".bookstore-version:not([data-id='current'])")
    rows.nth(len(before) - 1).wait_for()
    listed = [rows.nth(n).get_attribute("data-id") for n in range(rows.count())]
    assert sorted(listed) == before, (listed, before)

    target, _ = version_showing(panel, listed, "version one")
    panel.locator(".bookstore-diff-add", has_text="version two").wait_for()
    snap(page, "notebook7-history-panel.png")

    target.locator(".bookstore-version-restore").click()
    with page.expect_response(
        lambda r: "/bookstore/history/" in r.url and r.request.method == "POST" and r.ok
    ):
        page.locator(".jp-Dialog .jp-mod-warn", has_text="Restore").click()
    # The editor reloads the restored file; the panel lists the replaced version too.
    page.locator(CELLS, has_text="version one").wait_for()
    assert "version two" not in cells.inner_text()
    rows.nth(len(before)).wait_for()
    assert rows.count() == len(before) + 1
    assert panel.locator(".bookstore-error").inner_text() == ""
    assert not errors, errors


def _open_command_palette(page: Any) -> Any:
    """View > Activate Command Palette: Notebook 7's palette is a modal search box."""
    page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
    page.locator(".lm-Menu-itemLabel", has_text="Activate Command Palette").click()
    palette = page.locator(".lm-CommandPalette")
    palette.locator("input").wait_for(state="visible")
    return palette


def test_palette_share_and_view_menu_history(notebook7, swift):
    """The other ways in, for when the toolbar buttons overflow on a narrow window: the
    command palette's "Share…", and View > Right Sidebar > Show Version history."""
    name = "work/palette.ipynb"
    _put_notebook(swift, notebook7.container, name, "b = 2")

    def scenario(_browser: Any, page: Any) -> None:
        errors = _bookstore_errors(page)
        # Notebook 7 checkpoints a notebook that has none as it opens it.
        with page.expect_response(
            lambda r: (
                f"/api/contents/{name}/checkpoints" in r.url and r.request.method == "POST" and r.ok
            )
        ):
            _open_notebook(page, notebook7, name, "b = 2")
        made = _checkpoints(swift, notebook7.container, name)
        assert len(made) == 1, made
        palette = _open_command_palette(page)
        palette.locator("input").fill("Share")
        palette.locator(".lm-CommandPalette-itemLabel").get_by_text("Share…", exact=True).click()
        dialog = page.locator(".jp-Dialog .bookstore-share")
        dialog.wait_for()
        assert dialog.locator(".bookstore-share-path code").inner_text() == name
        dialog.locator("text=Not shared yet.").wait_for()
        page.locator(".jp-Dialog .jp-mod-accept", has_text="Close").click()
        dialog.wait_for(state="detached")

        panel = page.locator("#jp-right-stack #bookstore-history")
        assert not panel.is_visible()
        page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
        page.locator(".lm-Menu-itemLabel", has_text="Right Sidebar").click()
        page.locator(".lm-Menu-itemLabel", has_text="Show Version history").click()
        panel.wait_for(state="visible")
        assert panel.locator(".bookstore-history-path").inner_text() == name
        panel.locator(".bookstore-version[data-id='current']").wait_for()
        row = panel.locator(".bookstore-version:not([data-id='current'])")
        row.first.wait_for()
        assert [row.nth(n).get_attribute("data-id") for n in range(row.count())] == made
        assert not errors, errors

    in_browser(notebook7, "notebook7-palette", scenario)


def test_palette_share_on_the_tree_page_shares_the_selected_file(notebook7, swift):
    """Notebook 7's file page has no current notebook: Share… shares the selection."""
    name = "work/selected.ipynb"
    _put_notebook(swift, notebook7.container, name, "c = 3")

    def scenario(_browser: Any, page: Any) -> None:
        page.goto(f"{notebook7.url}/tree/work?token={notebook7.token}")
        item = page.locator(".jp-DirListing-item", has_text="selected.ipynb").first
        item.click()
        assert "jp-mod-selected" in (item.get_attribute("class") or "")
        palette = _open_command_palette(page)
        palette.locator("input").fill("Share")
        palette.locator(".lm-CommandPalette-itemLabel").get_by_text("Share…", exact=True).click()
        dialog = page.locator(".jp-Dialog .bookstore-share")
        dialog.wait_for(timeout=10_000)  # it shows in well under a second
        assert dialog.locator(".bookstore-share-path code").inner_text() == name
        # The file page shows no notebook: no (empty) Version history panel there.
        assert page.locator("#bookstore-history").count() == 0

    in_browser(notebook7, "notebook7-tree-palette", scenario)
