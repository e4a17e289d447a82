"""Real notebooks written by other people, through /api/contents, judged against the local disk.

The oracle is jupyter_server's own FileContentsManager given the same requests:
whatever it answers for a notebook (content, conversion, validation message,
error status), Bookstore must answer too. The bundled files in
``tests/data/notebooks`` always run; the full corpus (``../shared/notebooks``,
or ``$BOOKSTORE_CORPUS``) runs when present and says so when it is not.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
from tornado.httpclient import HTTPClientError
from tornado.web import HTTPError

HERE = Path(__file__).resolve().parent
BUNDLED = HERE.parent / "data" / "notebooks"
CORPUS = Path(os.environ.get("BOOKSTORE_CORPUS", HERE.parents[2] / "shared" / "notebooks"))
SKIP = {"MANIFEST.tsv", "README.md"}
#: Every file is stored below this, so names with spaces and unicode are tested at depth.
BASE = "deep/level one/数据 ü"


def corpus_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name not in SKIP and "LICENSES" not in p.parts
    )


@pytest.fixture(
    params=[
        pytest.param(BUNDLED, id="bundled"),
        pytest.param(CORPUS, id="corpus", marks=pytest.mark.corpus),
    ]
)
def source(request) -> Path:
    if not request.param.is_dir():
        pytest.skip(f"real-notebook corpus absent at {request.param}; set BOOKSTORE_CORPUS")
    return request.param


@pytest.fixture
def jp_server_config(store_config):
    url, options = store_config
    return {
        "ServerApp": {"contents_manager_class": "bookstore.BookstoreContentsManager"},
        "BookstoreContentsManager": {"store_url": url},
        **options,
    }


def comparable(nb: dict) -> dict:
    """Drop what each server makes up itself: cell trust (its notary secret) and the
    random ids nbformat gives cells of pre-4.5 notebooks on reading."""

    def strip(node, in_cell=False):
        if isinstance(node, dict):
            return {
                k: strip(v, k == "cells")
                for k, v in node.items()
                if k != "trusted" and not (in_cell and k == "id")
            }
        if isinstance(node, list):
            return [strip(v, in_cell) for v in node]
        return node

    return strip(nb)


def original_ids(nb_json: dict) -> list[str]:
    return [c["id"] for c in nb_json.get("cells", []) if isinstance(c, dict) and "id" in c]


async def fcm_call(coro):
    try:
        return 200, json.loads(json.dumps(await coro, default=str))
    except HTTPError as exc:
        return exc.status_code, {"message": exc.log_message}


async def test_real_notebooks_behave_as_on_local_disk(source, jp_fetch, tmp_path):
    (tmp_path / "oracle").mkdir()
    fcm = AsyncFileContentsManager(root_dir=str(tmp_path / "oracle"), delete_to_trash=False)

    async def api(method: str, path: str, body=None, **params):
        kwargs = {"method": method, "params": params}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        try:
            r = await jp_fetch("api", "contents", *path.split("/"), **kwargs)
        except HTTPClientError as exc:
            text = exc.response.body.decode()
            return exc.code, json.loads(text) if text.startswith("{") else {"message": text}
        return r.code, json.loads(r.body)

    async def both(method: str, path: str, body=None, **params):
        ours = await api(method, path, body, **params)
        if method == "PUT":
            theirs = await fcm_call(fcm.save(dict(body), path))
        else:
            theirs = await fcm_call(
                fcm.get(path, type=params.get("type"), format=params.get("format"))
            )
        return ours, theirs

    files = corpus_files(source)
    assert files, f"no files under {source}"
    checked = {"notebooks": 0, "unreadable": 0, "refused": 0, "files": 0}
    for file in files:
        rel = file.relative_to(source).as_posix()
        path = f"{BASE}/{rel}"
        (tmp_path / "oracle" / path).parent.mkdir(parents=True, exist_ok=True)
        raw = file.read_bytes()
        try:
            nb_json = json.loads(raw) if file.suffix == ".ipynb" else None
        except ValueError:
            nb_json = None

        if nb_json is not None:
            # JupyterLab uploads a notebook as parsed JSON.
            (code, ours), (fcode, _) = await both(
                "PUT", path, {"type": "notebook", "content": nb_json}
            )
            if fcode == 500:  # the local disk crashes on it; we must refuse it politely
                assert code == 400 and ours["message"], rel
                checked["refused"] += 1
                continue
            assert code in (200, 201), rel
            (code, ours), (fcode, theirs) = await both("GET", path)
            assert code == fcode, f"{rel}: {code} vs local disk {fcode}"
            if code == 200:
                assert comparable(ours["content"]) == comparable(theirs["content"]), rel
                ids = original_ids(nb_json)
                if ids and len(set(ids)) == len(ids):  # nbformat renames duplicates
                    assert [c.get("id") for c in ours["content"]["cells"]] == ids, rel
                assert bool(ours.get("message")) == bool(theirs.get("message")), rel
            checked["notebooks"] += 1
            continue

        # Other files, and notebooks that are not JSON, arrive as bytes.
        b64 = {"type": "file", "format": "base64", "content": base64.b64encode(raw).decode()}
        (code, _), _ = await both("PUT", path, b64)
        assert code in (200, 201), rel
        code, back = await api("GET", path, type="file", format="base64")
        assert code == 200 and base64.b64decode(back["content"]) == raw, rel
        (code, ours), (fcode, theirs) = await both("GET", path)
        assert code == fcode, f"{rel}: {code} vs local disk {fcode}"
        if file.suffix == ".ipynb":
            assert code == 400 and "Unreadable Notebook" in ours["message"], rel
            assert "Traceback" not in ours["message"]
            checked["unreadable"] += 1
        else:
            assert (ours["format"], ours["mimetype"]) == (theirs["format"], theirs["mimetype"])
            assert ours["content"] == theirs["content"], rel
            checked["files"] += 1

    # Every folder lists the same names as on the local disk.
    folders = {f"{BASE}/{f.relative_to(source).parent.as_posix()}".rstrip("/.") for f in files}
    for folder in sorted(folders | {"deep", "deep/level one", BASE}):
        _, ours = await api("GET", folder)
        theirs = await fcm.get(folder)
        assert sorted(m["name"] for m in ours["content"]) == sorted(
            m["name"] for m in theirs["content"]
        ), folder
    print(f"{source.name}: {checked}")
    assert checked["notebooks"] > 0
