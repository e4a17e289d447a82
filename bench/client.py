"""Drive a Jupyter server's REST API as JupyterLab does, with httpx, timing each call."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import quote

import httpx

from .servers import JupyterServer

#: JupyterLab's chunk size for uploads (packages/filebrowser/src/model.ts: CHUNK_SIZE)
LAB_CHUNK = 1024 * 1024


class ApiError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.text = response.text[:500]
        super().__init__(
            f"{response.request.method} {response.request.url}: {self.status} {self.text}"
        )


class Api:
    """One httpx.AsyncClient per server; every method returns (seconds, json)."""

    def __init__(self, server: JupyterServer, *, connections: int = 64) -> None:
        self.server = server
        self.client = httpx.AsyncClient(
            base_url=server.url,
            headers=server.headers,
            timeout=httpx.Timeout(900.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    @staticmethod
    def url(path: str) -> str:
        return "/api/contents/" + quote(path.strip("/"), safe="/")

    async def request(self, method: str, url: str, **kwargs: Any) -> tuple[float, Any]:
        t0 = time.perf_counter()
        r = await self.client.request(method, url, **kwargs)
        body = r.content
        dt = time.perf_counter() - t0
        if r.status_code >= 400:
            raise ApiError(r)
        return dt, (json.loads(body) if body else None)

    async def get(self, path: str, **params: Any) -> tuple[float, Any]:
        return await self.request("GET", self.url(path), params=params)

    async def put_raw(self, path: str, body: bytes) -> tuple[float, Any]:
        return await self.request(
            "PUT", self.url(path), content=body, headers={"Content-Type": "application/json"}
        )

    async def put(self, path: str, model: dict[str, Any]) -> tuple[float, Any]:
        return await self.put_raw(path, json.dumps(model).encode())

    async def patch(self, path: str, new_path: str) -> tuple[float, Any]:
        return await self.request("PATCH", self.url(path), json={"path": new_path})

    async def delete(self, path: str) -> tuple[float, Any]:
        return await self.request("DELETE", self.url(path))

    async def checkpoint(self, path: str) -> tuple[float, Any]:
        return await self.request("POST", self.url(path) + "/checkpoints")

    async def mkdir(self, path: str) -> None:
        """Make ``path`` and its parents (existing ones are fine)."""
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            try:
                await self.put("/".join(parts[:i]), {"type": "directory"})
            except ApiError:
                pass

    async def upload_chunked(
        self, path: str, total: int, *, chunk: int = LAB_CHUNK, block: bytes | None = None
    ) -> tuple[float, Any]:
        """Upload ``total`` bytes in JupyterLab's chunks (1, 2, ..., -1), one request each.

        The body is made of one repeated ``chunk``-sized block whose first byte is the
        chunk number, so the bench holds one chunk, not the file."""
        block = block or bytes(range(256)) * (chunk // 256)
        n_chunks = -(-total // chunk)
        t0 = time.perf_counter()
        model = None
        for n in range(1, n_chunks + 1):
            size = min(chunk, total - (n - 1) * chunk)
            data = bytes([n % 256]) + block[1:size]
            body = {
                "type": "file",
                "format": "base64",
                "chunk": -1 if n == n_chunks else n,
                "content": base64.b64encode(data).decode(),
            }
            _, model = await self.put(path, body)
        return time.perf_counter() - t0, model

    async def lag(self, reset: bool = False) -> dict[str, Any]:
        r = await self.client.request("POST" if reset else "GET", "/bench/lag")
        r.raise_for_status()
        return r.json()
