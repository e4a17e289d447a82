"""Notebook 7 on Bookstore over the test Swift: open, edit, save, see it in Swift.

Notebook 7 is built from JupyterLab's components but has its own pages (``/tree``,
``/notebooks/<path>``) and its own save flow; this is what a Notebook 7 user does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from labrunner import Lab, in_browser, running_lab, snap
from nbformat.v4 import new_code_cell, new_notebook
from swiftclient.client import Connection

CELLS = ".jp-Notebook .jp-Cell .cm-content"


@pytest.fixture(scope="module")
def notebook7(request, tmp_path_factory) -> Iterator[Lab]:
    swift_aio = request.getfixturevalue("swift_aio")
    with running_lab(swift_aio, tmp_path_factory.mktemp("nb7"), app="notebook") as lab:
        yield lab


def test_notebook7_opens_edits_and_saves_to_swift(notebook7, swift_aio):
    conn = Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)
    nb = new_notebook(cells=[new_code_cell("a = 1")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    conn.put_object(notebook7.container, "work/seven.ipynb", nbformat.writes(nb).encode())
    conn.put_object(notebook7.container, "work/", b"", content_type="application/x-directory")

    def scenario(_browser: Any, page: Any) -> None:
        # The file browser lists the folder held in Swift.
        page.goto(f"{notebook7.url}/tree?token={notebook7.token}")
        page.locator(".jp-DirListing-item", has_text="work").first.dblclick()
        page.locator(".jp-DirListing-item", has_text="seven.ipynb").wait_for()
        page.wait_for_timeout(1000)  # a failed start-folder lookup shows a dialog by now
        assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()
        snap(page, "notebook7-tree.png")
        page.goto(f"{notebook7.url}/notebooks/work/seven.ipynb?token={notebook7.token}")
        editor = page.locator(CELLS, has_text="a = 1").first
        editor.wait_for()
        editor.click()
        page.keyboard.press("End")
        page.keyboard.type("  # saved from Notebook 7")
        with page.expect_response(
            lambda r: (
                "/api/contents/work/seven.ipynb" in r.url and r.request.method == "PUT" and r.ok
            )
        ):
            page.keyboard.press("Control+s")

    in_browser(notebook7, "notebook7", scenario)
    stored = nbformat.reads(conn.get_object(notebook7.container, "work/seven.ipynb")[1], 4)
    conn.close()
    assert stored.cells[0].source == "a = 1  # saved from Notebook 7"
    # Notebook 7 asked for no folder outside the store (its start folder is the top).
    assert " 404 GET /api/contents/" not in notebook7.log.read_text()
