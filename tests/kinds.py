"""The stores every suite runs on: one fixture param per kind, each against its real server.

Adding a kind (say ``s3``) is one entry in ``STORE_KINDS`` and one branch in
``store_config``.
"""

from __future__ import annotations

import uuid

import pytest
from traitlets.config import Config

from bookstore.stores.registry import open_store

STORE_KINDS = ["memory", "local", "swift"]


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
    raise AssertionError(store_kind)


@pytest.fixture
def store(store_config, jp_asyncio_loop):
    url, options = store_config
    opened = open_store(url, config=Config(options))
    yield opened
    jp_asyncio_loop.run_until_complete(opened.close())
