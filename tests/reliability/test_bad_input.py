"""R5: bad input gets a 4xx with a message, and leaves the store as it was.

Each case is sent to a real Jupyter server over a real socket, with the URL exactly
as written (no client-side normalisation), against a container holding a few
objects; the container's objects and ETags, read straight from Swift, must be the
same afterwards.
"""

from __future__ import annotations

import base64
import json

import pytest
from reliability_helpers import Rest, container_snapshot, notebook

NB = {"type": "notebook", "content": notebook("ok")}


def put(url_path: str, body=NB):
    return ("PUT", url_path, json.dumps(body) if not isinstance(body, str) else body)


# name -> (method, raw URL path below /api/contents/, body)
PATHS = {
    "dotdot": put("../escape.ipynb"),
    "dotdot-encoded": put("%2e%2e/escape.ipynb"),
    "dotdot-deep": put("folder/%2e%2e/%2e%2e/escape.ipynb"),
    "dotdot-encoded-slash": put("%2e%2e%2fescape.ipynb"),
    "dot-segment": put("folder/./x.ipynb"),
    "empty-segment": put("folder//x.ipynb"),
    "get-dotdot": ("GET", "%2e%2e/%2e%2e/etc/passwd", None),
    "get-absolute": ("GET", "%2Fetc%2Fpasswd", None),
    "backslash-dotdot": put("..%5C..%5Cescape.ipynb"),
    "backslash-deep": put("folder%5C..%5C..%5Cescape.ipynb"),
    "name-over-1024-bytes": put("n" * 1100 + ".ipynb"),
    "multibyte-over-1024-bytes": put("é" * 520 + ".ipynb"),
    "path-over-1024-bytes": put("/".join(["d" * 200] * 6) + "/x.ipynb"),
    "nul": put("bad%00name.ipynb"),
    "control-char": put("bad%01name.ipynb"),
    "newline": put("bad%0Aname.ipynb"),
    "carriage-return": put("bad%0Dname.ipynb"),
    "delete-char": put("bad%7Fname.ipynb"),
    "reserved-bookstore": put(".bookstore/checkpoints/x.ipynb"),
    "rename-to-dotdot": ("PATCH", "existing.ipynb", json.dumps({"path": "../moved.ipynb"})),
    "rename-to-absolute-dotdot": (
        "PATCH",
        "existing.ipynb",
        json.dumps({"path": "/../../moved.ipynb"}),
    ),
    "rename-to-reserved": (
        "PATCH",
        "existing.ipynb",
        json.dumps({"path": ".bookstore/x.ipynb"}),
    ),
    "copy-from-dotdot": ("POST", "", json.dumps({"copy_from": "../existing.ipynb"})),
    "delete-dotdot": ("DELETE", "folder/%2e%2e/existing.ipynb", None),
}

BODIES = {
    "not-json": put("x.ipynb", "{not json"),
    "json-array": put("x.ipynb", "[1, 2]"),
    "notebook-content-string": put("x.ipynb", {"type": "notebook", "content": "text"}),
    "notebook-content-not-a-notebook": put(
        "x.ipynb", {"type": "notebook", "content": {"cells": "nope"}}
    ),
    "notebook-wrong-nbformat": put(
        "x.ipynb", {"type": "notebook", "content": {**notebook("x"), "nbformat": 99}}
    ),
    "file-without-format": put("x.txt", {"type": "file", "content": "text"}),
    "file-format-json": put("x.txt", {"type": "file", "format": "json", "content": {"a": 1}}),
    "file-bad-base64": put("x.bin", {"type": "file", "format": "base64", "content": "@@@"}),
    "file-text-not-a-string": put("x.txt", {"type": "file", "format": "text", "content": 42}),
    "notebook-format-base64": put(
        "x.ipynb", {"type": "notebook", "format": "base64", "content": "e30="}
    ),
    "directory-over-a-file": put("existing.ipynb", {"type": "directory"}),
    "get-bad-format": ("GET", "existing.ipynb?format=bogus", None),
    "get-notebook-as-directory": ("GET", "existing.ipynb?type=directory", None),
    "get-folder-as-file": ("GET", "folder?type=file", None),
    "chunk-zero": put("x.bin", {"type": "file", "format": "base64", "chunk": 0, "content": "AAAA"}),
    "chunk-negative": put(
        "x.bin", {"type": "file", "format": "base64", "chunk": -2, "content": "AAAA"}
    ),
    "chunk-not-a-number": put(
        "x.bin", {"type": "file", "format": "base64", "chunk": "1", "content": "AAAA"}
    ),
    "chunk-bool": put(
        "x.bin", {"type": "file", "format": "base64", "chunk": True, "content": "AAAA"}
    ),
    "chunk-of-a-notebook": put("x.ipynb", {**NB, "chunk": 1}),
}


@pytest.fixture
def seeded(rest, jp_asyncio_loop, swift_info, container):
    """A container with a folder and a notebook; returns a snapshot function."""

    async def seed() -> None:
        assert (await rest.call("PUT", "folder", {"type": "directory"})).code == 201
        assert (await rest.call("PUT", "existing.ipynb", NB)).code == 201
        assert (await rest.call("PUT", "folder/inner.ipynb", NB)).code == 201

    jp_asyncio_loop.run_until_complete(seed())
    return lambda: container_snapshot(swift_info, container)


async def send(rest: Rest, method: str, path: str, body):
    return await rest.raw(method, "/api/contents/" + path, body)


def assert_refused(r, before, after) -> None:
    assert 400 <= r.code < 500, (r.code, r.body)
    assert r.message.strip(), f"{r.code} without a message: {r.body!r}"
    assert "Traceback" not in r.message
    assert after == before, {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
    }


XFAIL = {
    "json-array": "UPSTREAM BUG (jupyter_server): ContentsHandler.put calls model.get() on a "
    "JSON array body -> AttributeError -> 500 (the same with FileContentsManager)",
}


def _params(cases: dict) -> list:
    return [
        pytest.param(*case, id=name, marks=[pytest.mark.xfail(strict=True, reason=XFAIL[name])])
        if name in XFAIL
        else pytest.param(*case, id=name)
        for name, case in cases.items()
    ]


@pytest.mark.parametrize(("method", "path", "body"), _params(PATHS))
async def test_bad_paths_are_refused(rest, seeded, method, path, body):
    before = seeded()
    r = await send(rest, method, path, body)
    assert_refused(r, before, seeded())


@pytest.mark.parametrize(("method", "path", "body"), _params(BODIES))
async def test_bad_bodies_are_refused(rest, seeded, method, path, body):
    before = seeded()
    r = await send(rest, method, path, body)
    assert_refused(r, before, seeded())


# --- chunked uploads -------------------------------------------------------------------------


def chunk(n: int, data: bytes) -> dict:
    return {
        "type": "file",
        "format": "base64",
        "chunk": n,
        "content": base64.b64encode(data).decode(),
    }


def visible(snapshot: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in snapshot.items() if not k.startswith(".bookstore/")}


async def test_chunks_out_of_order_are_refused_and_nothing_shows(rest, seeded):
    before = seeded()
    assert (await rest.call("PUT", "folder/big.bin", chunk(1, b"a" * 1000))).code == 201
    r = await rest.call("PUT", "folder/big.bin", chunk(3, b"c" * 1000))
    assert r.code == 400 and "chunk" in r.message, (r.code, r.message)
    # The staged parts were dropped with the refusal: the "last" chunk alone would make
    # a truncated file, so it is refused too.
    r = await rest.call("PUT", "folder/big.bin", chunk(-1, b"z" * 10))
    assert r.code == 400 and "chunk" in r.message, (r.code, r.message)
    assert (await rest.call("GET", "folder/big.bin")).code == 404
    after = seeded()
    assert visible(after) == visible(before)
    assert after == before, "staged parts left behind after a refused upload"


async def test_abandoned_upload_is_never_visible(rest, seeded):
    before = seeded()
    listing_before = (await rest.call("GET", "folder")).body["content"]
    for n in (1, 2):
        assert (await rest.call("PUT", "folder/half.bin", chunk(n, b"x" * 1000))).code in (200, 201)
    # Mid-upload and after it is abandoned: no partial file anywhere in Jupyter's view.
    assert (await rest.call("GET", "folder/half.bin")).code == 404
    assert (await rest.call("GET", "folder")).body["content"] == listing_before
    assert (await rest.call("GET", "folder/half.bin", content=0)).code == 404
    after = seeded()
    assert visible(after) == visible(before)
    staged = sorted(set(after) - set(before))
    print(f"\nR5: an abandoned upload leaves {len(staged)} staged part(s) behind: {staged}")
    # A new upload of the same file starts clean and is whole.
    await rest.call("PUT", "folder/half.bin", chunk(1, b"1" * 10))
    r = await rest.call("PUT", "folder/half.bin", chunk(-1, b"2" * 10))
    assert r.code in (200, 201) and r.body["size"] == 20
    got = await rest.call("GET", "folder/half.bin", format="base64", type="file")
    assert base64.b64decode(got.body["content"]) == b"1" * 10 + b"2" * 10
