"""No link outlives its file, or its record: renames, races, failures, bad lifetimes,
public copies kept apart from the notebooks. Against the session's real Swift and s3api."""

from __future__ import annotations

from typing import Any

import pytest
from nbformat import writes
from nbformat.v4 import new_code_cell, new_notebook
from swiftclient.client import Connection
from traitlets.config import Config

from bookstore import BookstoreContentsManager
from bookstore.errors import NotFound
from bookstore.sharing import InvalidShare, Sharing, SharingNotSupported
from bookstore.sharing.service import backend_for
from bookstore.stores.s3 import S3Store
from kinds import s3_bucket, s3_options


def notebook(source: str) -> bytes:
    return writes(new_notebook(cells=[new_code_cell(source)])).encode()


def published(swift_conn: Connection, container: str) -> list[str]:
    """Every public copy, as their owner sees the public container."""
    _, objects = swift_conn.get_container(f"{container}-public", full_listing=True)
    return sorted(o["name"] for o in objects)


async def test_resharing_a_renamed_file_keeps_one_public_copy(store, swift_conn, container, anon):
    cm = BookstoreContentsManager(store=store)
    await store.put("proj/old.ipynb", notebook("'first'"))
    first = await cm.sharing().create("proj/old.ipynb", "public")
    await cm.rename_file("proj/old.ipynb", "proj/new.ipynb")
    await cm.rename_file("proj", "done")
    await store.put("done/new.ipynb", notebook("'second'"))

    again = await cm.sharing().create("done/new.ipynb", "public")
    # The link people hold now shows the new content; nothing else is published.
    assert (again.id, again.url, again.location) == (first.id, first.url, first.location)
    assert b"'second'" in anon(first.url).body
    assert published(swift_conn, container) == [first.location]
    await cm.delete_file("done/new.ipynb")
    assert anon(first.url).status == 404
    assert published(swift_conn, container) == []


class DeletedWhileCopying:
    """The real backend; the file is deleted in Jupyter (file, then its records revoked)
    just after the copy, before ``create`` returns: the interleaving of the race."""

    def __init__(self, sharing: Sharing, real: Any, path: str) -> None:
        self.sharing, self.real, self.path = sharing, real, path
        self.max_signed_expiry = real.max_signed_expiry

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def _then_delete(self) -> None:
        await self.sharing.store.delete(self.path)
        await self.sharing.revoke_under(self.path)

    async def publish(self, src: str, location: str) -> tuple[str, int]:
        made = await self.real.publish(src, location)
        await self._then_delete()
        return made

    async def snapshot(self, src: str, dst: str, *, expires: Any) -> int:
        size = await self.real.snapshot(src, dst, expires=expires)
        await self._then_delete()
        return size


@pytest.mark.parametrize("kind", ["public", "signed"])
async def test_a_share_racing_a_delete_does_not_outlive_the_file(
    store, swift_conn, container, anon, kind
):
    sharing = Sharing(store)
    sharing.backend = DeletedWhileCopying(sharing, sharing.backend, "r.ipynb")
    await store.put("r.ipynb", notebook("'racing'"))
    with pytest.raises(NotFound):
        await sharing.create("r.ipynb", kind)
    assert await sharing.list("r.ipynb") == []
    _, snapshots = swift_conn.get_container(container, prefix="alice/.bookstore/shares/")
    assert [o["name"] for o in snapshots] == []
    if kind == "public":
        assert published(swift_conn, container) == []


async def test_a_share_too_long_to_record_publishes_nothing(store, swift_conn, container):
    path = "/".join(["d" * 240] * 4) + "/n.ipynb"  # a valid key; its record's key is not
    await store.put(path, notebook("1"))
    sharing = Sharing(store)
    for kind in ("public", "signed"):
        with pytest.raises(InvalidShare, match="too long to share"):
            await sharing.create(path, kind)
    assert await sharing.list(path) == []
    assert published(swift_conn, container) == []


async def test_public_links_take_no_lifetime(store):
    await store.put("p.ipynb", notebook("1"))
    sharing = Sharing(store)
    for expires in ("1h", "garbage", 3600):
        with pytest.raises(InvalidShare, match="public links do not expire"):
            await sharing.create("p.ipynb", "public", expires)
    assert await sharing.list("p.ipynb") == []


@pytest.mark.parametrize(
    "expires", ["99999999999w", 1e300, float("inf"), float("nan"), "3000000d", 10**400, "3651d"]
)
async def test_absurd_lifetimes_are_refused(store, expires):
    await store.put("l.ipynb", notebook("1"))
    with pytest.raises(InvalidShare):
        await Sharing(store).create("l.ipynb", "signed", expires)


def test_the_public_container_is_never_the_notebooks_one(store, container):
    config = Config({"SwiftSharing": {"public_container": container}})
    with pytest.raises(SharingNotSupported, match="notebooks' own container"):
        backend_for(store, config=config)


# --- S3: the default public prefix sits apart from the notebooks -----------------------


@pytest.fixture
def bucket(swift_aio) -> str:
    return s3_bucket(swift_aio)


async def test_s3_default_public_prefix_is_outside_the_notebooks(swift_aio, bucket, anon):
    store = S3Store(bucket=bucket, prefix="", **s3_options(swift_aio))
    sharing = Sharing(store)
    try:
        await store.put("s3nb.ipynb", notebook("'s3 public'"))
        share = await sharing.create("s3nb.ipynb", "public")
        assert "/.bookstore/public/" in share.url
        cm = BookstoreContentsManager(store=store)
        cm.allow_hidden = True  # even so: .bookstore/ at the root is Bookstore's
        listed = await cm.get("", content=True)
        assert [m["name"] for m in listed["content"]] == ["s3nb.ipynb"]
        _, data = await store.get(f".bookstore/public/{share.location}")
        assert b"'s3 public'" in data
        await sharing.delete("s3nb.ipynb")
        with pytest.raises(NotFound):
            await store.head(f".bookstore/public/{share.location}")
    finally:
        await sharing.close()
        await store.close()


@pytest.mark.parametrize(
    ("store_prefix", "public_prefix"),
    [("", "bookstore-public/"), ("", "work/"), ("alice/", "alice/pub/"), ("alice/", "")],
)
def test_s3_public_prefix_overlapping_the_notebooks_is_refused(
    swift_aio, bucket, store_prefix, public_prefix
):
    store = S3Store(bucket=bucket, prefix=store_prefix, **s3_options(swift_aio))
    config = Config({"S3Sharing": {"public_prefix": public_prefix}})
    with pytest.raises(SharingNotSupported, match="overlaps the notebooks"):
        Sharing(store, config=config)
    other = Config({"S3Sharing": {"public_prefix": public_prefix, "public_bucket": "elsewhere"}})
    assert Sharing(store, config=other).backend.bucket == "elsewhere"
