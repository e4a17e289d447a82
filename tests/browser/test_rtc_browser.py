"""Real-time collaboration on Bookstore: several people, one notebook in Swift.

One JupyterLab with jupyter-collaboration on, over the test Swift; each person is a
separate browser context (own cookies, own websocket). What Swift holds is read with
swiftclient, and the store requests are counted in the Swift proxy's access log.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import nbformat
import pytest
from bench.swiftlog import SwiftLog
from labrunner import Lab, in_browser, running_lab
from nbformat.v4 import new_code_cell, new_notebook, new_output
from swiftclient.client import Connection

from bookstore.devswift.config import Layout

CELLS = ".jp-NotebookPanel .jp-Cell .cm-content"
IDLE_SECONDS = 20


@pytest.fixture(scope="module")
def rtc_lab(request, tmp_path_factory) -> Iterator[Lab]:
    swift_aio = request.getfixturevalue("swift_aio")
    with running_lab(swift_aio, tmp_path_factory.mktemp("rtc"), rtc=True) as lab:
        yield lab


def notebook_bytes(*sources: str, output_bytes: int = 0) -> bytes:
    cells = [new_code_cell(s) for s in sources]
    if output_bytes:  # a big stored output, as plots and tables make
        cells[-1].outputs = [new_output("stream", name="stdout", text="x" * output_bytes)]
        cells[-1].execution_count = 1
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nbformat.writes(nb).encode()


def stored(swift: Connection, container: str, name: str) -> str:
    return swift.get_object(container, name)[1].decode()


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.3)


def open_as_person(browser: Any, lab: Lab, name: str, expect: str) -> Any:
    """A new person (browser context) with ``name`` open, showing ``expect``."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}")
    page.locator(CELLS, has_text=expect).first.wait_for()
    return page


def type_into_cell(page: Any, index: int, text: str) -> None:
    editor = page.locator(CELLS).nth(index)
    editor.click()
    page.keyboard.press("End")
    page.keyboard.type(text)


def test_two_people_edit_one_notebook_and_swift_holds_both(rtc_lab, swift):
    name = "together.ipynb"
    swift.put_object(rtc_lab.container, name, notebook_bytes("a = 1", "b = 2"))

    def scenario(browser: Any, _page: Any) -> None:
        alice = open_as_person(browser, rtc_lab, name, "a = 1")
        bob = open_as_person(browser, rtc_lab, name, "b = 2")
        type_into_cell(alice, 0, "  # Alice was here")
        type_into_cell(bob, 1, "  # Bob was here")
        # Each sees the other's edit, live.
        alice.locator(CELLS, has_text="Bob was here").wait_for()
        bob.locator(CELLS, has_text="Alice was here").wait_for()
        # The autosaves reach Swift: one object holding both edits.
        wait_for(
            "Swift holds both edits",
            lambda: all(
                s in stored(swift, rtc_lab.container, name)
                for s in ("Alice was here", "Bob was here")
            ),
        )
        nb = nbformat.reads(stored(swift, rtc_lab.container, name), as_version=4)
        assert [c.source for c in nb.cells] == ["a = 1  # Alice was here", "b = 2  # Bob was here"]
        # Autosaves made no checkpoint each: only the first save's, as on the local disk.
        prefix = f".bookstore/checkpoints/{name}/"
        assert len(swift.get_container(rtc_lab.container, prefix=prefix)[1]) == 1
        # Someone who opens the notebook later sees both.
        carol = open_as_person(browser, rtc_lab, name, "Alice was here")
        carol.locator(CELLS, has_text="Bob was here").wait_for()

    in_browser(rtc_lab, "rtc-together", scenario)


def test_an_outside_write_is_seen_and_no_edit_is_lost(rtc_lab, swift):
    name = "outside.ipynb"
    container = rtc_lab.container
    before = notebook_bytes("x = 1", "y = 2")
    swift.put_object(container, name, before)

    def scenario(browser: Any, _page: Any) -> None:
        alice = open_as_person(browser, rtc_lab, name, "x = 1")
        bob = open_as_person(browser, rtc_lab, name, "y = 2")
        type_into_cell(alice, 0, "  # Alice's edit")
        wait_for("Alice's edit is saved", lambda: "Alice's edit" in stored(swift, container, name))
        # Someone else writes the object directly, from the version before Alice's edit.
        swift.put_object(container, name, notebook_bytes("x = 1", "y = 2  # from outside"))
        # Both people see the outside version: detected, not overwritten by the room.
        alice.locator(CELLS, has_text="from outside").wait_for()
        bob.locator(CELLS, has_text="from outside").wait_for()
        # Bob keeps working; his edit lands on top of the outside version.
        type_into_cell(bob, 0, "  # Bob's edit")
        wait_for("Bob's edit is saved", lambda: "Bob's edit" in stored(swift, container, name))
        final = stored(swift, container, name)
        assert "from outside" in final  # the outside write survived the room's saves
        # Alice's edit, replaced by the outside write, is kept as a checkpoint.
        kept = [
            stored(swift, container, o["name"])
            for o in swift.get_container(container, prefix=f".bookstore/checkpoints/{name}/")[1]
        ]
        assert any("Alice's edit" in text for text in kept), kept

    in_browser(rtc_lab, "rtc-outside", scenario)
    assert "replaced by another writer" in rtc_lab.log.read_text()


def test_idle_documents_cost_one_small_request_per_poll(rtc_lab, swift, swift_aio):
    small, large = "idle-small.ipynb", "idle-large.ipynb"
    swift.put_object(rtc_lab.container, small, notebook_bytes("s = 'small'"))
    swift.put_object(
        rtc_lab.container, large, notebook_bytes("l = 'large'", output_bytes=5_000_000)
    )
    log = SwiftLog(Layout(swift_aio.data_dir).log_file)
    counts: dict[str, dict[str, int]] = {}

    def scenario(browser: Any, _page: Any) -> None:
        open_as_person(browser, rtc_lab, small, "s = 'small'")
        open_as_person(browser, rtc_lab, large, "l = 'large'")
        time.sleep(5)  # the rooms settle: first load, first save of the loaded state
        log.mark()
        time.sleep(IDLE_SECONDS)
        for req in log.read():
            for doc in (small, large):
                if req.path.endswith(f"/{rtc_lab.container}/{doc}"):
                    by = counts.setdefault(doc, {})
                    by[req.method] = by.get(req.method, 0) + 1

    in_browser(rtc_lab, "rtc-idle", scenario)
    per_minute = {
        doc: {m: round(n * 60 / IDLE_SECONDS) for m, n in counts.get(doc, {}).items()}
        for doc in (small, large)
    }
    print(f"store requests per open document per minute while idle: {per_minute}")
    for doc in (small, large):
        methods = counts.get(doc, {})
        # The poll is seen at all (else the log or the matching is broken, not the cost).
        assert methods.get("HEAD", 0) >= IDLE_SECONDS // 2, (doc, methods)
        assert set(methods) <= {"HEAD"}, f"{doc}: content downloaded or written while idle"
        # jupyter-collaboration polls once a second: at most one HEAD per poll.
        assert methods.get("HEAD", 0) <= IDLE_SECONDS + 2, methods
    # Size does not matter: a 5 MB notebook costs what a small one does.
    assert abs(counts.get(large, {}).get("HEAD", 0) - counts.get(small, {}).get("HEAD", 0)) <= 3


def test_a_renamed_notebook_keeps_its_file_id(rtc_lab, swift):
    """The collaboration room is keyed by file ID; Bookstore's renames keep it."""

    def api(method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{rtc_lab.url}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {rtc_lab.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    swift.put_object(rtc_lab.container, "before.ipynb", notebook_bytes("z = 0"))
    api("PUT", "/api/contents/folder", {"type": "directory"})
    swift.put_object(rtc_lab.container, "folder/inner.ipynb", notebook_bytes("w = 0"))
    session = api(
        "PUT", "/api/collaboration/session/before.ipynb", {"format": "json", "type": "notebook"}
    )
    inner = api(
        "PUT",
        "/api/collaboration/session/folder/inner.ipynb",
        {"format": "json", "type": "notebook"},
    )
    api("PATCH", "/api/contents/before.ipynb", {"path": "after.ipynb"})
    api("PATCH", "/api/contents/folder", {"path": "moved"})
    assert api("GET", f"/api/fileid/path?id={session['fileId']}")["path"] == "after.ipynb"
    assert api("GET", f"/api/fileid/path?id={inner['fileId']}")["path"] == "moved/inner.ipynb"
    again = api(
        "PUT", "/api/collaboration/session/after.ipynb", {"format": "json", "type": "notebook"}
    )
    assert again["fileId"] == session["fileId"]


def test_no_notebook_content_was_written_locally(rtc_lab):
    """After the tests above: the server's home and working directory hold no notebook
    and no collaboration history (jupyter-collaboration's default is an SQLite file
    of every document's updates in the working directory)."""
    written = [p.relative_to(rtc_lab.home) for p in rtc_lab.home.rglob("*") if p.is_file()]
    assert not [p for p in written if p.suffix == ".ipynb" or "ystore" in p.name], written
    assert "Collaboration: document history in memory" in rtc_lab.log.read_text()
