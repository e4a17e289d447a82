"""R7: every upload is verified; a transfer corrupted on the way is detected, never stored.

Corruption is injected at the last point on our side, python-swiftclient's
``Connection.put_object``: the body is altered *after* SwiftStore has computed
whatever it computes, as a flaky NIC, proxy or TLS terminator would. The real Swift
then judges what it received.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from reliability_helpers import container_snapshot, notebook, source_of
from swiftclient.client import Connection
from swiftclient.exceptions import ClientException
from traitlets.config import Config

from bookstore import errors
from bookstore.stores.registry import open_store
from kinds import unique


def flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 0xFF]) + data[1:] if data else data


class Corruptor:
    """Flips the first byte of object bodies on their way to Swift while ``active``, for
    the object names ``match`` accepts (manifests and containers are never touched)."""

    def __init__(self) -> None:
        self.active = True
        self.match = lambda name: True
        self.hits: list[str] = []
        self.limit: int | None = None  # corrupt at most this many bodies

    def wrap(self, name: str, contents):
        if not self.active or not self.match(name):
            return contents
        if self.limit is not None and len(self.hits) >= self.limit:
            return contents
        self.hits.append(name)
        if isinstance(contents, bytes | bytearray):
            return flip(bytes(contents))
        if contents is None or isinstance(contents, str):
            return contents
        source = iter(contents)

        def corrupted():
            first = True
            for chunk in source:
                yield flip(chunk) if first and chunk else chunk
                first = first and not chunk

        return corrupted()


@pytest.fixture
def corruptor(monkeypatch) -> Corruptor:
    corruptor = Corruptor()
    real = Connection.put_object

    def put_object(self, container, obj, contents, *args, **kwargs):
        if "multipart-manifest" not in (kwargs.get("query_string") or ""):
            contents = corruptor.wrap(obj, contents)
        return real(self, container, obj, contents, *args, **kwargs)

    monkeypatch.setattr(Connection, "put_object", put_object)
    return corruptor


@pytest.fixture
def store(swift_aio, jp_asyncio_loop):
    opened = open_store(
        f"swift://{unique('integ')}/",
        config=Config(
            {
                "SwiftStore": {
                    "auth_url": swift_aio.auth_url,
                    "user": swift_aio.user,
                    "key": swift_aio.key,
                    "retries": 1,
                    "retry_backoff": 0.05,
                }
            }
        ),
    )
    yield opened
    jp_asyncio_loop.run_until_complete(opened.close())


def test_swift_itself_refuses_a_body_that_does_not_match_its_etag(swift_aio):
    """The property the bytes path relies on: Swift answers 422 to a wrong ETag."""
    conn = Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)
    name = unique("etag")
    try:
        conn.put_container(name)
        with pytest.raises(ClientException) as info:
            conn.put_object(name, "x", b"hello", etag=hashlib.md5(b"hellO").hexdigest())
        assert info.value.http_status == 422
        with pytest.raises(ClientException) as missing:
            conn.head_object(name, "x")
        assert missing.value.http_status == 404
    finally:
        conn.close()


async def test_put_sends_the_md5_and_checks_the_answer(store):
    data = b"notebook bytes" * 1000
    meta = await store.put("a.ipynb", data)
    assert meta.etag == hashlib.md5(data).hexdigest()
    _, back = await store.get("a.ipynb")
    assert back == data


async def test_corrupted_bytes_put_is_refused_and_nothing_is_stored(store, corruptor):
    with pytest.raises(errors.StoreError) as info:
        await store.put("c.ipynb", b"good bytes" * 100)
    assert corruptor.hits, "the corruption was not injected"
    assert "c.ipynb" in str(info.value)
    with pytest.raises(errors.NotFound):
        await store.head("c.ipynb")


async def test_one_corrupted_transfer_is_retried_and_the_save_succeeds(store, corruptor):
    corruptor.limit = 1  # a flaky network: only the first try is damaged
    data = b"good bytes" * 100
    meta = await store.put("r.ipynb", data)
    assert corruptor.hits == ["r.ipynb"]
    _, back = await store.get("r.ipynb")
    assert back == data and meta.etag == hashlib.md5(data).hexdigest()


async def test_corrupted_overwrite_keeps_the_previous_version(store, corruptor):
    corruptor.active = False
    v1 = await store.put("v.ipynb", b"version 1" * 100)
    corruptor.active = True
    with pytest.raises(errors.StoreError):
        await store.put("v.ipynb", b"version 2" * 100)
    assert corruptor.hits
    assert (await store.head("v.ipynb")).etag == v1.etag


async def test_corrupted_streamed_put_is_detected(store, corruptor):
    data = [b"A" * 65536, b"B" * 65536, b"C" * 100]

    async def body():
        for chunk in data:
            yield chunk

    try:
        await store.put("s.bin", body())
    except errors.StoreError as exc:
        assert "s.bin" in str(exc)
        with pytest.raises(errors.NotFound):  # refused, and nothing kept
            await store.head("s.bin")
        stored = None
    else:
        _, stored = await store.get("s.bin")
    assert corruptor.hits, "the corruption was not injected"
    # Either refused, or what is stored is exactly what was sent: never silently different.
    assert stored is None or stored == b"".join(data)


async def test_corrupted_streamed_overwrite_keeps_the_previous_version(store, corruptor):
    corruptor.active = False
    old = b"version 1" * 1000
    await store.put("o.bin", old)
    corruptor.active = True

    async def body():
        yield b"version 2" * 1000

    with pytest.raises(errors.StoreError):
        await store.put("o.bin", body())
    assert corruptor.hits
    corruptor.active = False
    _, kept = await store.get("o.bin")
    assert kept == old


async def test_corrupted_small_chunk_upload_through_rest_is_not_stored(rest, corruptor):
    corruptor.match = lambda name: name == "up.bin"  # the staged chunks go through intact
    parts = [bytes([65 + i]) * 1000 for i in range(12)]
    for n, part in enumerate(parts, start=1):
        body = {
            "type": "file",
            "format": "base64",
            "chunk": -1 if n == len(parts) else n,
            "content": base64.b64encode(part).decode(),
        }
        r = await rest.call("PUT", "up.bin", body)
    assert corruptor.hits == ["up.bin"], corruptor.hits
    got = await rest.call("GET", "up.bin", format="base64", type="file")
    if r.code >= 400:  # refused with a message, and no corrupted file left behind
        assert "up.bin" in r.message, r.message
        assert got.code == 404, (got.code, got.body)
    else:
        assert base64.b64decode(got.body["content"]) == b"".join(parts)


async def test_corrupted_notebook_save_through_rest_keeps_the_old_version(
    rest, swift_info, container, corruptor
):
    corruptor.active = False
    r = await rest.call("PUT", "n.ipynb", {"type": "notebook", "content": notebook("v1")})
    assert r.code == 201
    before = container_snapshot(swift_info, container)
    corruptor.active, corruptor.match = True, lambda name: name == "n.ipynb"
    r = await rest.call("PUT", "n.ipynb", {"type": "notebook", "content": notebook("v2")})
    corruptor.active = False
    assert corruptor.hits
    # A transfer fault, not a bad request: retried, then 503 with what happened.
    assert r.code == 503 and "n.ipynb" in r.message, (r.code, r.message)
    assert "corrupted on the way" in r.message, r.message
    print(f"\nR7: a corrupted save is answered {r.code}: {r.message}")
    assert container_snapshot(swift_info, container) == before
    got = await rest.call("GET", "n.ipynb")
    assert source_of(got.body) == "v1"
