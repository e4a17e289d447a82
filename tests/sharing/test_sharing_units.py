"""The pure pieces: durations, nbviewer links, backend choice, cell-by-cell diffs."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bookstore.handlers.diff import notebook_diff, text_diff
from bookstore.sharing import InvalidShare, SharingNotSupported, backend_for, viewer_url
from bookstore.sharing.base import format_duration, parse_duration
from bookstore.stores.memory import MemoryStore
from bookstore.stores.swift import SwiftStore


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("1h", 3600), ("7d", 604800), ("1d12h", 129600), ("2w", 1209600),
     ("90", 90), (45, 45), (" 2 H ", 7200)],
)  # fmt: skip
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "soon", "1x", "0", "0m", "-1", "h1", True, None])
def test_bad_durations(bad):
    with pytest.raises(InvalidShare):
        parse_duration(bad)


def test_format_duration():
    assert [format_duration(timedelta(seconds=s)) for s in (604800, 5400, 60, 61)] == [
        "7d", "90m", "1m", "61s"
    ]  # fmt: skip


def test_viewer_links_follow_nbviewer_conventions():
    signed = "http://swift:8080/v1/AUTH_a/c/a%20b.ipynb?temp_url_sig=ab&temp_url_expires=1&inline"
    assert viewer_url(signed) == (
        "https://nbviewer.org/url/swift:8080/v1/AUTH_a/c/a%20b.ipynb"
        "?temp_url_sig=ab&temp_url_expires=1&inline"
    )
    assert viewer_url("https://cdn.example/x.ipynb", "https://nb.example.org/v/") == (
        "https://nb.example.org/v/urls/cdn.example/x.ipynb"
    )


def test_stores_without_links_say_so():
    with pytest.raises(SharingNotSupported, match="swift:// or s3://"):
        backend_for(MemoryStore())


def test_backends_see_through_store_wrappers():
    class Wrapper:  # as CachedListings: keeps the real store as `inner`
        def __init__(self, inner):
            self.inner = inner

    swift = SwiftStore(container="c", auth_url="http://127.0.0.1:9/auth/v1.0", user="u", key="k")
    backend = backend_for(Wrapper(Wrapper(swift)))
    assert type(backend).__name__ == "SwiftSharing" and backend.store is swift
    assert backend.container == "c-public"


def test_cell_diff_aligns_cells():
    cells = [new_markdown_cell("# T"), new_code_cell("x = 1"), new_code_cell("z")]
    base = new_notebook(cells=cells)
    remote = copy.deepcopy(base)
    remote.cells[1].source = "x = 2"
    remote.cells[2].outputs = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    del remote.cells[0]
    remote.cells.append(new_code_cell("new"))
    diff, cells = notebook_diff(base, remote)
    assert diff and [(c["status"], c["lines"]) for c in cells] == [
        ("removed", ["-# T"]),
        ("modified", ["@@ -1 +1 @@", "-x = 1", "+x = 2"]),
        ("modified", [" z"]),
        ("added", ["+new"]),
    ]
    assert cells[2]["changes"] == ["outputs"]


def test_text_diff():
    assert text_diff("a\nb\n", "a\nb\n")[0]["status"] == "unchanged"
    changed = text_diff("a\nb\n", "a\nc\n")[0]
    assert changed["status"] == "modified" and changed["lines"][-2:] == ["-b", "+c"]
