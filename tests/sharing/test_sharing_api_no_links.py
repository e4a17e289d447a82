"""/bookstore/ on a store that cannot make links (memory://): history yes, sharing 501."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from kinds import unique


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {
            "contents_manager_class": "bookstore.BookstoreContentsManager",
            "jpserver_extensions": {"bookstore": True},
        },
        "BookstoreContentsManager": {"store_url": f"memory://{unique('m')}"},
    }


async def test_no_links_on_a_memory_store(jp_fetch):
    status = json.loads((await jp_fetch("bookstore")).body)
    assert status["sharing"] is None and "swift:// or s3://" in status["sharing_unavailable"]
    body = json.dumps({"type": "file", "format": "text", "content": "x"})
    await jp_fetch("api", "contents", "a.txt", method="PUT", body=body)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("bookstore", "shares", "a.txt", method="POST", body="{}")
    assert info.value.code == 501
    assert "swift:// or s3://" in json.loads(info.value.response.body)["message"]
    history = json.loads((await jp_fetch("bookstore", "history", "a.txt")).body)
    assert history["current"]["size"] == 1
