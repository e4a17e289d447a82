"""Links are judged the way a stranger sees them: a plain HTTP client, no credentials.
Also the Swift fixtures the link suites share: a container, a store on its ``alice/``."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from swiftclient.client import Connection
from traitlets.config import Config

from bookstore.stores.registry import open_store
from kinds import unique


@pytest.fixture
def swift_conn(swift_aio) -> Iterator[Connection]:
    conn = Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)
    yield conn
    conn.close()


@pytest.fixture
def container() -> str:
    return unique("share")


@pytest.fixture
def store(swift_aio, container, jp_asyncio_loop):
    auth = {"auth_url": swift_aio.auth_url, "user": swift_aio.user, "key": swift_aio.key}
    opened = open_store(f"swift://{container}/alice", config=Config({"SwiftStore": auth}))
    yield opened
    jp_asyncio_loop.run_until_complete(opened.close())


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes
    content_type: str | None


def anonymous_get(url: str) -> Fetched:
    """GET ``url`` with urllib and nothing else: no token, no cookie, no signature of ours."""
    request = urllib.request.Request(url, headers={"User-Agent": "stranger/1.0"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Fetched(response.status, response.read(), response.headers.get("content-type"))
    except urllib.error.HTTPError as exc:
        with exc:
            return Fetched(exc.code, exc.read(), exc.headers.get("content-type"))


@pytest.fixture
def anon():
    return anonymous_get
