"""/api/contents driven as JupyterLab drives it, on a real server over every store."""

from __future__ import annotations

import base64
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import HTTPClientError


@pytest.fixture
def jp_server_config(store_config):
    url, options = store_config
    return {
        "ServerApp": {
            "contents_manager_class": "bookstore.BookstoreContentsManager",
            "jpserver_extensions": {"bookstore": True},
        },
        "BookstoreContentsManager": {"store_url": url},
        **options,
    }


@pytest.fixture
def api(jp_fetch):
    """JSON in, JSON out; paths are quoted as the browser quotes them."""

    async def call(method: str, path: str = "", body=None, **params):
        kwargs = {"method": method, "params": params}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = "{}"
        r = await jp_fetch("api", "contents", *[p for p in path.split("/") if p], **kwargs)
        return r.code, (json.loads(r.body) if r.body else None)

    return call


async def error_of(call) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as info:
        await call
    body = info.value.response.body.decode()
    # jupyter_server answers a GET 404 in plain text, every other error in JSON.
    return info.value.code, json.loads(body) if body.startswith("{") else {"message": body}


def notebook(source: str = "1 + 1") -> dict:
    return json.loads(nbformat.writes(new_notebook(cells=[new_code_cell(source)])))


async def test_lab_session(api, jp_serverapp):
    """What a person does in JupyterLab: new, edit, save, checkpoint, rename, revert."""
    code, model = await api("POST", "", {"type": "notebook"})
    assert code == 201 and model["path"] == "Untitled.ipynb"
    code, model = await api("PUT", "Untitled.ipynb", {"type": "notebook", "content": notebook()})
    assert code == 200 and model["last_modified"]
    code, cp = await api("POST", "Untitled.ipynb/checkpoints")
    assert code == 201 and cp["id"]
    await api("PUT", "Untitled.ipynb", {"type": "notebook", "content": notebook("2 + 2")})
    code, model = await api("PATCH", "Untitled.ipynb", {"path": "work/analysis.ipynb"})
    assert code == 200 and model["path"] == "work/analysis.ipynb"
    code, cps = await api("GET", "work/analysis.ipynb/checkpoints")
    assert cp["id"] in [c["id"] for c in cps]
    code, _ = await api("POST", f"work/analysis.ipynb/checkpoints/{cp['id']}")
    assert code == 204
    _, model = await api("GET", "work/analysis.ipynb")
    assert model["content"]["cells"][0]["source"] == "1 + 1"
    _, root = await api("GET", "")
    assert [m["name"] for m in root["content"]] == ["work"]


async def test_listing_and_content_flags(api):
    await api("PUT", "d/a.ipynb", {"type": "notebook", "content": notebook()})
    await api("PUT", "d/b.txt", {"type": "file", "format": "text", "content": "hello"})
    _, listing = await api("GET", "d", content=1)
    assert sorted(m["name"] for m in listing["content"]) == ["a.ipynb", "b.txt"]
    assert all(m["content"] is None for m in listing["content"])
    _, bare = await api("GET", "d/b.txt", content=0, hash=1)
    assert bare["content"] is None and len(bare["hash"]) == 64
    assert bare["hash_algorithm"] == "sha256"
    _, text = await api("GET", "d/b.txt", type="file", format="text")
    assert text["content"] == "hello"


async def test_errors_are_json_with_a_message(api, jp_serverapp):
    await api("PUT", "a.txt", {"type": "file", "format": "text", "content": "x"})
    code, body = await error_of(api("GET", "missing.ipynb"))
    assert code == 404 and "missing.ipynb" in body["message"]
    code, body = await error_of(
        api("PUT", "a.txt", {"type": "file", "format": "base64", "content": "@@@"})
    )
    assert code == 400 and "a.txt" in body["message"] and not body.get("traceback")
    code, body = await error_of(api("PATCH", "nope.txt", {"path": "x.txt"}))
    assert code == 404
    _, model = await api("GET", "a.txt")
    assert model["content"] == "x"


async def test_upload_in_chunks_like_jupyterlab(api, jp_serverapp):
    payload = bytes(range(256)) * 8192  # 2 MiB
    chunk_size = 512 * 1024
    chunks = [payload[i : i + chunk_size] for i in range(0, len(payload), chunk_size)]
    for n, chunk in enumerate(chunks, start=1):
        body = {
            "type": "file",
            "format": "base64",
            "chunk": -1 if n == len(chunks) else n,
            "content": base64.b64encode(chunk).decode(),
        }
        code, model = await api("PUT", "uploads/data file.bin", body)
        assert code in (200, 201)
    assert model["size"] == len(payload)
    _, got = await api("GET", "uploads/data file.bin", format="base64")
    assert base64.b64decode(got["content"]) == payload


async def test_copy_and_delete_folder(api):
    await api("PUT", "p/x.ipynb", {"type": "notebook", "content": notebook()})
    code, model = await api("POST", "", {"copy_from": "p/x.ipynb"})
    assert code == 201 and model["path"] == "x.ipynb"
    code, model = await api("POST", "", {"copy_from": "p/x.ipynb"})
    assert model["path"] == "x-Copy1.ipynb"
    code, _ = await api("DELETE", "p")
    assert code == 204
    code, _ = await error_of(api("GET", "p"))
    assert code == 404


async def test_unicode_names_over_http(api):
    path = "研究 notes/données finales/📊 résumé.ipynb"
    await api("PUT", path, {"type": "notebook", "content": notebook("'ü'")})
    _, model = await api("GET", path)
    assert model["name"] == "📊 résumé.ipynb"
    assert model["content"]["cells"][0]["source"] == "'ü'"
    _, listing = await api("GET", "研究 notes")
    assert [m["name"] for m in listing["content"]] == ["données finales"]


async def test_extension_is_enabled_and_logs_where(jp_serverapp):
    assert "bookstore" in jp_serverapp.extension_manager.extensions
    assert jp_serverapp.contents_manager.info_string().startswith("Serving notebooks from ")


async def test_listings_answered_by_bookstores_handler(api, jp_fetch, jp_serverapp, monkeypatch):
    """Big listings are spliced from batches (handlers/contents.py); same answer as upstream."""
    from jupyter_client.jsonutil import json_default
    from jupyter_server.services.contents.handlers import CheckpointsHandler
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    from bookstore.contents import manager
    from bookstore.handlers.contents import ContentsHandler

    def handler_for(uri: str) -> type:
        line = RequestStartLine("GET", jp_serverapp.base_url + uri, "HTTP/1.1")
        req = HTTPServerRequest(start_line=line, headers=HTTPHeaders(Host="localhost"))
        return jp_serverapp.web_app.find_handler(req).handler_class

    assert handler_for("api/contents/d") is ContentsHandler
    assert handler_for("api/contents/d/a.ipynb/checkpoints") is CheckpointsHandler

    monkeypatch.setattr(manager, "MODELS_PER_TICK", 2)  # several batches from a few files
    for name in ["a.ipynb", "b ü.txt", 'c".txt', "sub/x.txt", "sub2/y.txt", "e.txt"]:
        await api("PUT", f"d/{name}", {"type": "file", "format": "text", "content": "1"})
    r = await jp_fetch("api", "contents", "d", params={"content": 1})
    answered = json.loads(r.body)
    model = await jp_serverapp.contents_manager.get("d")
    expected = json.loads(json.dumps(model["content"], default=json_default))

    def timeless_folders(entries: list) -> list:  # a pseudo-folder's time is "now"
        return [
            {
                k: v
                for k, v in e.items()
                if e["type"] != "directory" or k not in ("created", "last_modified")
            }
            for e in entries
        ]

    assert timeless_folders(answered["content"]) == timeless_folders(expected)
    assert sorted(e["name"] for e in answered["content"]) == [
        "a.ipynb",
        "b ü.txt",
        'c".txt',
        "e.txt",
        "sub",
        "sub2",
    ]
