"""What the browser suites share: a python-swiftclient connection to the session's Swift."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from swiftclient.client import Connection


@pytest.fixture
def swift(swift_aio) -> Iterator[Connection]:
    """Swift as an outsider sees it (``swift upload``/``download``), not through Jupyter."""
    conn = Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)
    yield conn
    conn.close()
