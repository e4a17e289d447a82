"""Reliability suite: Bookstore on the session's real Swift, behind a real Jupyter server.

Each test gets its own container (``container``) and an in-process Jupyter server
(pytest-jupyter's ``jp_serverapp``) configured for it, driven over a real socket by
``rest``: a client with its own connection pool, so N concurrent writers are N
concurrent requests. Tests that need a process of their own (logs, a killable
Swift) start it themselves.
"""

from __future__ import annotations

import pytest
from reliability_helpers import Rest

from kinds import unique


@pytest.fixture
def container() -> str:
    return unique("rel")


@pytest.fixture
def swift_info(swift_aio):
    """The Swift this test's server uses (tests with their own Swift override this)."""
    return swift_aio


@pytest.fixture
def swift_store_options(swift_info) -> dict:
    return {"auth_url": swift_info.auth_url, "user": swift_info.user, "key": swift_info.key}


@pytest.fixture
def jp_server_config(container, swift_store_options):
    return {
        "ServerApp": {
            "contents_manager_class": "bookstore.BookstoreContentsManager",
            "jpserver_extensions": {"bookstore": True},
        },
        "BookstoreContentsManager": {"store_url": f"swift://{container}/"},
        "SwiftStore": swift_store_options,
    }


@pytest.fixture
def rest(jp_serverapp, http_server_client, jp_auth_header, jp_base_url, jp_asyncio_loop):
    async def make() -> Rest:
        return Rest(http_server_client.get_url(jp_base_url), jp_auth_header)

    client = jp_asyncio_loop.run_until_complete(make())
    yield client
    client.close()
