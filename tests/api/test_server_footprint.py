"""What a session leaves behind: nothing on the local disk, no secret in the startup line,
and a big chunked upload that never holds the file in memory or shows half of it."""

from __future__ import annotations

import base64
import gc
import json
import os
import tracemalloc

import pytest
from tornado.httpclient import HTTPClientError


@pytest.fixture
def jp_server_config(store_config):
    url, options = store_config
    return {
        "ServerApp": {"contents_manager_class": "bookstore.BookstoreContentsManager"},
        "BookstoreContentsManager": {"store_url": url},
        **options,
    }


@pytest.fixture
def api(jp_fetch):
    async def call(method: str, path: str = "", body=None, **params):
        kwargs = {"method": method, "params": params}
        if body is not None or method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = json.dumps(body or {})
        r = await jp_fetch("api", "contents", *[p for p in path.split("/") if p], **kwargs)
        return json.loads(r.body) if r.body else None

    return call


def files_under(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


async def test_nothing_written_to_local_disk(api, jp_root_dir, tmp_path, monkeypatch, store_kind):
    if store_kind == "local":
        pytest.skip("file:// stores write to disk by design (their own directory)")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = files_under(jp_root_dir)

    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    await api("POST", "", {"type": "notebook"})
    await api("PUT", "work/a.ipynb", {"type": "notebook", "content": nb})
    await api("POST", "work/a.ipynb/checkpoints")
    await api("PUT", "work/a.ipynb", {"type": "notebook", "content": nb})
    await api("PATCH", "work/a.ipynb", {"path": "work/b.ipynb"})
    await api("PATCH", "work", {"path": "done"})
    [cp] = (await api("GET", "done/b.ipynb/checkpoints"))[-1:]
    await api("POST", f"done/b.ipynb/checkpoints/{cp['id']}")
    for n in (1, -1):
        chunk = {"type": "file", "format": "text", "chunk": n, "content": "x" * 1000}
        await api("PUT", "done/big.txt", chunk)
    await api("POST", "", {"copy_from": "done/b.ipynb"})
    await api("DELETE", "done")

    assert files_under(jp_root_dir) == before
    assert files_under(cwd) == []


async def test_startup_line_names_the_store_and_no_secret(jp_serverapp, store_kind, store_config):
    info = jp_serverapp.running_server_info()
    line = next(ln for ln in info.splitlines() if ln.startswith("Serving notebooks from"))
    url, options = store_config
    if store_kind == "swift":
        swift = options["SwiftStore"]
        container = url.split("//")[1].strip("/")
        assert f"Swift container '{container}'" in line
        assert "127.0.0.1" in line
        assert swift["key"] not in line and "AUTH_tk" not in line
    else:
        assert line != "Serving notebooks from "


async def test_chunked_upload_50mb_bounded_memory(api, store_kind):
    if store_kind == "memory":
        pytest.skip("MemoryStore keeps every object in RAM by design")
    mib = 1024 * 1024
    block = os.urandom(mib)

    async def upload(path: str, total: int) -> tuple[dict, int]:
        """Upload ``total`` MiB in 1 MiB chunks; return the last model and the peak memory."""
        tracemalloc.start()
        try:
            for n in range(1, total + 1):
                if n == total:  # before the last chunk nothing of the file is visible
                    with pytest.raises(HTTPClientError) as info:
                        await api("GET", path, content=0)
                    assert info.value.code == 404
                    top = [m["name"] for m in (await api("GET", ""))["content"]]
                    assert path.split("/")[0] not in top
                data = bytes([n % 256]) + block[1:]
                body = {
                    "type": "file",
                    "format": "base64",
                    "chunk": -1 if n == total else n,
                    "content": base64.b64encode(data).decode(),
                }
                model = await api("PUT", path, body)
                del body, data
                # Count what is held, not cyclic garbage of finished requests awaiting the GC.
                gc.collect()
            return model, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    _, small_peak = await upload("small/two.bin", 2)
    model, peak = await upload("big/blob.bin", 50)
    assert model["size"] == 50 * mib
    # Memory does not grow with the file: 50 chunks cost what 2 chunks cost.
    assert peak < small_peak + 8 * mib, f"{peak / mib:.1f} MiB vs {small_peak / mib:.1f} MiB"

    got = await api("GET", "big/blob.bin", format="base64", type="file")
    data = base64.b64decode(got["content"])
    assert len(data) == 50 * mib
    for n in (1, 2, 50):
        start = (n - 1) * mib
        assert data[start] == n % 256 and data[start + 1 : start + mib] == block[1:]
