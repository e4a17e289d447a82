"""S3 links against the session's Swift s3api: presigned URLs, and a public bucket.

s3api has no bucket policies and its public-read ACL also allows listing, so the
public bucket is made readable (not listable) the Swift way, as the README (Sharing)
says to, and links point at its Swift URL (``S3Sharing.public_url``).
"""

from __future__ import annotations

import time

import anyio
import pytest
from nbformat import writes
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from bookstore.sharing import InvalidShare, Sharing, SharingNotSupported
from bookstore.stores.s3 import S3Store
from kinds import s3_bucket, s3_options


def notebook(source: str) -> bytes:
    return writes(new_notebook(cells=[new_code_cell(source)])).encode()


@pytest.fixture
def public_bucket(swift_aio) -> str:
    return s3_bucket(swift_aio, **{"X-Container-Read": ".r:*"})


@pytest.fixture
def store(swift_aio, jp_asyncio_loop):
    opened = S3Store(bucket=s3_bucket(swift_aio), prefix="alice/", **s3_options(swift_aio))
    yield opened
    jp_asyncio_loop.run_until_complete(opened.close())


@pytest.fixture
def sharing(store, swift_aio, public_bucket, jp_asyncio_loop):
    config = Config(
        {
            "S3Sharing": {
                "public_bucket": public_bucket,
                "public_url": f"{swift_aio.storage_url}/{public_bucket}",
            }
        }
    )
    made = Sharing(store, config=config)
    yield made
    jp_asyncio_loop.run_until_complete(made.close())


async def test_presigned_link_works_then_expires(store, sharing, anon):
    await store.put("work/a.ipynb", notebook("'presigned'"))
    share = await sharing.create("work/a.ipynb", "signed", "3s")
    assert "X-Amz-Signature=" in share.url
    got = anon(share.url)
    assert got.status == 200 and b"'presigned'" in got.body
    assert got.content_type.startswith("application/json")
    await anyio.sleep(max(0.0, share.expires.timestamp() - time.time()) + 1.1)
    assert anon(share.url).status == 403


async def test_presigned_snapshot_is_immutable(store, sharing, anon):
    await store.put("n.ipynb", notebook("'before'"))
    share = await sharing.create("n.ipynb", "signed", "1h")
    await store.put("n.ipynb", notebook("'after'"))
    body = anon(share.url).body
    assert b"'before'" in body and b"'after'" not in body


async def test_public_bucket_exposes_that_file_only(store, sharing, anon, swift_aio, public_bucket):
    await store.put("a.ipynb", notebook("'public s3'"))
    await store.put("secret.ipynb", notebook("'keep out'"))
    share = await sharing.create("a.ipynb", "public")
    assert share.url.startswith(f"{swift_aio.storage_url}/{public_bucket}/.bookstore/public/")
    got = anon(share.url)
    assert got.status == 200 and b"'public s3'" in got.body

    base = f"{swift_aio.storage_url}/{public_bucket}"
    assert anon(f"{base}/.bookstore/public/{share.id}/secret.ipynb").status == 404
    assert anon(f"{swift_aio.s3_endpoint}/{store.bucket}/alice/secret.ipynb").status in (401, 403)
    assert anon(base).status in (401, 403)  # no listing

    await store.put("a.ipynb", notebook("'edited'"))
    assert b"'public s3'" in anon(share.url).body
    await sharing.delete("a.ipynb")
    assert anon(share.url).status == 404


async def test_s3_limits(store, sharing):
    await store.put("x.ipynb", notebook("1"))
    with pytest.raises(InvalidShare, match="at most 7d"):
        await sharing.create("x.ipynb", "signed", "8d")
    with pytest.raises(SharingNotSupported, match="access key"):
        await sharing.rotate()


async def test_links_made_under_the_old_default_prefix_are_taken_down(
    store, swift_aio, public_bucket, anon, jp_asyncio_loop
):
    # Public copies used to go to bookstore-public/; the records keep only the share id
    # and name, so an upgraded server must look there too when it unshares.
    def made(prefix: str | None) -> Sharing:
        options = {
            "public_bucket": public_bucket,
            "public_url": f"{swift_aio.storage_url}/{public_bucket}",
        }
        if prefix is not None:
            options["public_prefix"] = prefix
        return Sharing(store, config=Config({"S3Sharing": options}))

    await store.put("old.ipynb", notebook("'shared before the upgrade'"))
    before, after = made("bookstore-public/"), made(None)
    try:
        share = await before.create("old.ipynb", "public")
        assert "/bookstore-public/" in share.url and anon(share.url).status == 200
        assert [s.id for s in await after.delete("old.ipynb")] == [share.id]
        assert anon(share.url).status in (401, 403, 404)
    finally:
        await before.close()
        await after.close()
