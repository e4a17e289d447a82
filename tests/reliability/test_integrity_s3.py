"""R7 on S3: a body damaged on the way is refused by the server, never stored.

SigV4 signs every request's body SHA-256 (``x-amz-content-sha256``), and the server
refuses a body that does not match it. The damage is done by a loopback TCP relay
between Bookstore and the real s3api that flips the first body byte of PUT requests,
as a flaky NIC or middlebox would; the real server judges.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
from traitlets.config import Config

from bookstore import errors
from bookstore.stores.registry import open_store
from kinds import s3_bucket, s3_options

MiB = 1 << 20


class Relay:
    """TCP relay to ``upstream`` that damages the bodies of the next ``damage`` PUTs."""

    def __init__(self, upstream: str) -> None:
        url = urlparse(upstream)
        self.host, self.port = url.hostname, url.port
        self.damage = 0
        self.damaged = 0

    async def _to_server(self, reader, writer) -> None:
        buf = b""
        while data := await reader.read(1 << 16):
            buf += data
            out = b""
            while buf:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[: end + 4]
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if len(buf) < end + 4 + length:
                    break
                body = bytearray(buf[end + 4 : end + 4 + length])
                if body and head.startswith(b"PUT ") and self.damaged < self.damage:
                    body[0] ^= 0xFF
                    self.damaged += 1
                out += head + bytes(body)
                buf = buf[end + 4 + length :]
            writer.write(out)
            await writer.drain()
        writer.close()

    async def _to_client(self, reader, writer) -> None:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _handle(self, client_r, client_w) -> None:
        server_r, server_w = await asyncio.open_connection(self.host, self.port)
        self._writers += [client_w, server_w]
        await asyncio.gather(
            self._to_server(client_r, server_w),
            self._to_client(server_r, client_w),
            return_exceptions=True,
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        self._writers: list[asyncio.StreamWriter] = []
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        try:
            yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        finally:
            server.close()
            for writer in self._writers:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            await server.wait_closed()


@contextlib.asynccontextmanager
async def relayed(swift_aio) -> AsyncIterator[tuple]:
    """(store through the relay, the relay, a store reaching the server directly)."""
    options = {**s3_options(swift_aio), "retries": 1, "retry_backoff": 0.05}
    bucket = s3_bucket(swift_aio)
    relay = Relay(options["endpoint_url"])
    async with relay.running() as endpoint:
        through = {**options, "endpoint_url": endpoint, "part_size": 5 * MiB}
        store = open_store(f"s3://{bucket}/", config=Config({"S3Store": through}))
        direct = open_store(f"s3://{bucket}/", config=Config({"S3Store": options}))
        try:
            yield store, relay, direct
        finally:
            await store.close()
            await direct.close()


async def test_one_damaged_put_is_retried_and_stored_right(swift_aio):
    async with relayed(swift_aio) as (store, relay, direct):
        relay.damage = 1
        await store.put("nb.ipynb", b"good bytes")
        assert relay.damaged == 1
        assert (await direct.get("nb.ipynb"))[1] == b"good bytes"


async def test_a_put_damaged_every_time_is_refused_and_the_old_version_stays(swift_aio):
    async with relayed(swift_aio) as (store, relay, direct):
        await direct.put("nb.ipynb", b"old version")
        relay.damage = 10
        with pytest.raises(errors.Unavailable, match="corrupted on the way"):
            await store.put("nb.ipynb", b"new version")
        assert (await direct.get("nb.ipynb"))[1] == b"old version"


async def test_a_damaged_part_of_a_multipart_upload_stores_nothing(swift_aio):
    async def body() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * (4 * MiB)

    async with relayed(swift_aio) as (store, relay, direct):
        await direct.put("big.bin", b"old version")
        relay.damage = 10
        with pytest.raises(errors.Unavailable, match="corrupted on the way"):
            await store.put("big.bin", body())
        assert (await direct.get("big.bin"))[1] == b"old version"
