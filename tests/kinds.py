"""The stores every suite runs on: one fixture param per kind, each against its real server.

Adding a kind (say ``s3``) is one entry in ``STORE_KINDS`` and one branch in
``store_config``.
"""

from __future__ import annotations

import uuid

import pytest
from traitlets.config import Config

from bookstore.stores.registry import open_store

STORE_KINDS = ["memory", "local", "swift", "s3"]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def store_config(store_kind, request, tmp_path) -> tuple[str, dict]:
    """(store_url, traitlets config) for a fresh, empty store of ``store_kind``."""
    if store_kind == "memory":
        return f"memory://{unique('t')}", {}
    if store_kind == "local":
        root = tmp_path / "store"
        root.mkdir()
        return f"file://{root}", {}
    if store_kind == "swift":
        swift = request.getfixturevalue("swift_aio")
        auth = {"auth_url": swift.auth_url, "user": swift.user, "key": swift.key}
        return f"swift://{unique('c')}/", {"SwiftStore": auth}
    if store_kind == "s3":
        swift = request.getfixturevalue("swift_aio")
        return f"s3://{s3_bucket(swift)}/", {"S3Store": s3_options(swift)}
    raise AssertionError(store_kind)


def s3_options(swift) -> dict[str, str]:
    """S3Store settings for swift-aio's s3api (the secret lives in ``secret_access_key``)."""
    return {
        "endpoint_url": swift.s3_endpoint,
        "region": swift.region,
        "access_key_id": swift.s3_access_key,
        "secret_access_key": swift.s3_secret_key,
    }


def new_container(swift, kind: str = "c", **headers: str) -> str:
    """A new, empty container made by swiftclient (``headers``: e.g. X-Versions-Enabled)."""
    from swiftclient.client import Connection

    name = unique(kind)
    conn = Connection(authurl=swift.auth_url, user=swift.user, key=swift.key, retries=2)
    try:
        conn.put_container(name, headers=headers or None)
    finally:
        conn.close()
    return name


def s3_bucket(swift, **headers: str) -> str:
    """A new, empty bucket. S3Store doesn't create buckets; an s3api bucket is a Swift
    container, so swiftclient makes it."""
    return new_container(swift, "b", **headers)


@pytest.fixture
def store(store_config, jp_asyncio_loop):
    url, options = store_config
    opened = open_store(url, config=Config(options))
    yield opened
    jp_asyncio_loop.run_until_complete(opened.close())


async def rename_dies_midway(cm, old: str, new: str, *, at_copy: int) -> None:
    """Rename ``old`` to ``new`` as a server that dies at its ``at_copy``-th object copy:
    the rename hangs there and is cancelled, as a killed process would leave it."""
    import anyio

    store = cm.store
    real_copy = store.copy_blind  # what folder moves copy with
    copies = 0

    async def copy_then_die(src: str, dst: str) -> None:
        nonlocal copies
        copies += 1
        if copies == at_copy:
            await anyio.sleep_forever()
        await real_copy(src, dst)

    store.copy_blind = copy_then_die
    try:
        with anyio.move_on_after(2):
            await cm.rename(old, new)
    finally:
        store.copy_blind = real_copy
    assert copies == at_copy, "the rename ended before the planned crash"
