"""Swift links against the session's real Swift (tempurl, no CDN), fetched anonymously."""

from __future__ import annotations

import json
import logging
import time

import anyio
import pytest
from nbformat import writes
from nbformat.v4 import new_code_cell, new_notebook

from bookstore.errors import NotFound, PermissionDenied
from bookstore.sharing import InvalidShare, Sharing
from bookstore.sharing.service import INDEX_ROOT
from kinds import rename_dies_midway


def notebook(source: str) -> bytes:
    return writes(new_notebook(cells=[new_code_cell(source)])).encode()


@pytest.fixture
def sharing(store) -> Sharing:
    return Sharing(store)


async def test_signed_link_works_then_expires(store, sharing, anon):
    await store.put("work/a.ipynb", notebook("print('signed')"))
    share = await sharing.create("work/a.ipynb", "signed", "3s")
    assert share.kind == "signed" and share.expires is not None
    got = anon(share.url)
    assert got.status == 200 and b"print('signed')" in got.body
    assert got.content_type.startswith("application/json")  # shown, not downloaded
    assert share.viewer_url.startswith("https://nbviewer.org/url/127.0.0.1:")
    assert "temp_url_sig=" in share.viewer_url  # the query goes along
    await anyio.sleep(max(0.0, share.expires.timestamp() - time.time()) + 1.1)
    assert anon(share.url).status == 401


async def test_public_link_exposes_that_file_only(store, sharing, anon, swift_aio, container):
    await store.put("a.ipynb", notebook("'public one'"))
    await store.put("private.ipynb", notebook("'keep out'"))
    share = await sharing.create("a.ipynb", "public")
    assert share.expires is None
    got = anon(share.url)
    assert got.status == 200 and b"'public one'" in got.body

    public = f"{swift_aio.storage_url}/{container}-public"
    # The unshared notebook: not at its would-be public URL (beside the shared one,
    # or under any id), not in the private container, and no listing tells names.
    for url in (
        f"{public}/{share.id}/private.ipynb",
        f"{public}/{'0' * 24}/private.ipynb",
        f"{swift_aio.storage_url}/{container}/alice/private.ipynb",
    ):
        assert anon(url).status in (401, 403, 404), url
    for listing in (
        public,
        f"{public}/",
        f"{public}?format=json",
        f"{swift_aio.storage_url}/{container}",
    ):
        got = anon(listing)
        assert got.status in (401, 403), listing
        assert b"private" not in got.body and share.id.encode() not in got.body

    await sharing.delete("a.ipynb", share.id)
    assert anon(share.url).status == 404
    assert await sharing.list("a.ipynb") == []


async def test_links_show_the_snapshot_until_reshared(store, sharing, anon):
    await store.put("n.ipynb", notebook("'version 1'"))
    signed = await sharing.create("n.ipynb", "signed", "1h")
    public = await sharing.create("n.ipynb", "public")
    await store.put("n.ipynb", notebook("'version 2'"))
    for share in (signed, public):
        body = anon(share.url).body
        assert b"'version 1'" in body and b"'version 2'" not in body

    again = await sharing.create("n.ipynb", "public")  # re-sharing publishes the new one
    assert again.id == public.id and again.url == public.url
    assert b"'version 2'" in anon(public.url).body
    assert b"'version 1'" in anon(signed.url).body  # a signed link is its own snapshot
    newer = await sharing.create("n.ipynb", "signed", "1h")
    assert newer.url != signed.url and b"'version 2'" in anon(newer.url).body
    kinds = sorted(s.kind for s in await sharing.list("n.ipynb"))
    assert kinds == ["public", "signed", "signed"]


async def test_rotating_the_key_kills_every_signed_link(store, sharing, anon, swift_conn, caplog):
    caplog.set_level(logging.DEBUG)
    await store.put("r.ipynb", notebook("'rotate me'"))
    first = await sharing.create("r.ipynb", "signed", "1h")
    public = await sharing.create("r.ipynb", "public")
    key = swift_conn.head_account()["x-account-meta-temp-url-key"]
    assert anon(first.url).status == 200

    assert await sharing.rotate() == 1
    assert swift_conn.head_account()["x-account-meta-temp-url-key"] != key
    assert "x-account-meta-temp-url-key-2" not in swift_conn.head_account()
    assert anon(first.url).status == 401
    assert anon(public.url).status == 200  # public links are not signed
    assert [s.kind for s in await sharing.list("r.ipynb")] == ["public"]
    later = await sharing.create("r.ipynb", "signed", "1h")
    assert anon(later.url).status == 200

    # The key is Bookstore's secret: not in logs, records or links.
    new_key = swift_conn.head_account()["x-account-meta-temp-url-key"]
    _, record = await store.get(f"{INDEX_ROOT}r.ipynb/{later.id}.json")
    for secret in (key, new_key):
        assert secret not in caplog.text and secret.encode() not in record
        assert secret not in later.url


async def test_listing_deleting_and_refusals(store, sharing):
    await store.put("x.ipynb", notebook("1"))
    a = await sharing.create("x.ipynb", "signed", "10m")
    b = await sharing.create("x.ipynb", "signed", "1d")
    assert {s.id for s in await sharing.list("x.ipynb")} == {a.id, b.id}
    record = json.loads((await store.get(f"{INDEX_ROOT}x.ipynb/{a.id}.json"))[1])
    assert record["kind"] == "signed" and record["path"] == "x.ipynb"

    with pytest.raises(NotFound):
        await sharing.delete("x.ipynb", "f" * 24)
    assert [s.id for s in await sharing.delete("x.ipynb", a.id)] == [a.id]
    assert [s.id for s in await sharing.delete("x.ipynb")] == [b.id]
    assert await sharing.list("x.ipynb") == []
    with pytest.raises(NotFound):
        await sharing.create("missing.ipynb")
    with pytest.raises(InvalidShare, match="kind"):
        await sharing.create("x.ipynb", "secret")
    with pytest.raises(InvalidShare, match="duration"):
        await sharing.create("x.ipynb", "signed", "soon")
    sharing.max_expiry = "1d"
    with pytest.raises(InvalidShare, match="at most 1d"):
        await sharing.create("x.ipynb", "signed", "2d")


async def test_a_listable_public_container_is_refused(store, sharing, swift_conn, container):
    swift_conn.put_container(f"{container}-public", headers={"X-Container-Read": ".r:*,.rlistings"})
    await store.put("x.ipynb", notebook("1"))
    with pytest.raises(PermissionDenied, match="list"):
        await sharing.create("x.ipynb", "public")


async def test_links_to_awkward_names(store, sharing, anon):
    path = "données/📊 résumé #1 %20?.ipynb"
    await store.put(path, notebook("'ü'"))
    for kind in ("signed", "public"):
        share = await sharing.create(path, kind)
        got = anon(share.url)
        assert got.status == 200 and "'ü'" in got.body.decode(), kind


async def test_shares_follow_a_folder_rename_finished_after_a_crash(store, anon):
    """The share records move inside the rename's journal: a server that died mid-rename
    leaves them for the next one to move, not at a path that no longer exists."""
    from bookstore import BookstoreContentsManager

    cm = BookstoreContentsManager(store=store, concurrency=1)
    for i in range(6):
        await store.put(f"proj/f{i}.txt", b"x")
    await store.put("proj/n.ipynb", notebook("print('shared')"))
    share = await cm.sharing().create("proj/n.ipynb", "signed", "1h")

    await rename_dies_midway(cm, "proj", "done", at_copy=3)
    assert [s.id for s in await cm.sharing().list("proj/n.ipynb")] == [share.id]

    fresh = BookstoreContentsManager(store=store)
    assert await fresh.resume_renames() == 1
    assert await fresh.sharing().list("proj/n.ipynb") == []
    moved = await fresh.sharing().list("done/n.ipynb")
    assert [(s.id, s.path) for s in moved] == [(share.id, "done/n.ipynb")]
    assert anon(share.url).status == 200
    await fresh.delete("done")  # and the moved records still revoke the link
    assert anon(share.url).status == 404
