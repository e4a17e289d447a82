"""/bookstore/ on a real Jupyter server over the test Swift, driven as JupyterLab drives it."""

from __future__ import annotations

import json

import pytest
from nbformat import writes
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from tornado.httpclient import HTTPClientError

from kinds import unique


@pytest.fixture
def jp_server_config(swift_aio):
    auth = {"auth_url": swift_aio.auth_url, "user": swift_aio.user, "key": swift_aio.key}
    return {
        "ServerApp": {
            "contents_manager_class": "bookstore.BookstoreContentsManager",
            "jpserver_extensions": {"bookstore": True},
        },
        "BookstoreContentsManager": {"store_url": f"swift://{unique('api')}/"},
        "SwiftStore": auth,
        "Sharing": {"viewer_url": "https://viewer.example.org/nb/"},
    }


@pytest.fixture
def call(jp_fetch):
    """JSON in, JSON out, on /bookstore/ or /api/contents/."""

    async def fetch(method: str, *parts: str, body=None, **params):
        kwargs = {"method": method, "params": params}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = "{}"
        segments = [s for p in parts for s in p.split("/") if s]
        r = await jp_fetch(*segments, **kwargs)
        return r.code, (json.loads(r.body) if r.body else None)

    return fetch


async def error_of(request) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as info:
        await request
    assert info.value.response.headers["Content-Type"].startswith("application/json")
    return info.value.code, json.loads(info.value.response.body)


def nb(*sources: str) -> dict:
    """A notebook whose n-th cell keeps its id across saves, as in JupyterLab."""
    cells = [new_markdown_cell(s[2:]) if s.startswith("# ") else new_code_cell(s) for s in sources]
    for n, cell in enumerate(cells):
        cell.id = f"cell-{n}"
    return json.loads(writes(new_notebook(cells=cells)))


async def save(call, path: str, *sources: str) -> None:
    await call("PUT", "api/contents", path, body={"type": "notebook", "content": nb(*sources)})


async def test_status_says_what_is_offered(call):
    code, status = await call("GET", "bookstore")
    assert code == 200 and status["history"] is True
    assert status["sharing"]["kinds"] == ["signed", "public"]
    assert status["sharing"]["default_expiry"] == "7d" and status["sharing"]["max_expiry"] is None
    assert "Swift container" in status["store"]


async def test_share_list_and_unshare(call, anon):
    await save(call, "dir/my nb.ipynb", "print('shared over REST')")
    body = {"kind": "signed", "expires": "1h"}
    code, share = await call("POST", "bookstore/shares", "dir/my nb.ipynb", body=body)
    assert code == 201 and share["kind"] == "signed" and share["path"] == "dir/my nb.ipynb"
    assert share["viewer_url"].startswith("https://viewer.example.org/nb/url/127.0.0.1:")
    assert b"print('shared over REST')" in anon(share["url"]).body
    body = {"kind": "public"}
    code, public = await call("POST", "bookstore/shares", "dir/my nb.ipynb", body=body)
    assert code == 201 and public["expires"] is None

    _, listed = await call("GET", "bookstore/shares", "dir/my nb.ipynb")
    assert {s["id"] for s in listed["shares"]} == {share["id"], public["id"]}

    code, revoked = await call("DELETE", "bookstore/shares", "dir/my nb.ipynb", id=share["id"])
    assert code == 200 and revoked["revoked"] == [share["id"]]
    assert anon(share["url"]).status == 404  # snapshot gone (TempURL still valid: 404, not 401)
    _, revoked = await call("DELETE", "bookstore/shares", "dir/my nb.ipynb")
    assert revoked["revoked"] == [public["id"]]
    assert anon(public["url"]).status == 404
    _, listed = await call("GET", "bookstore/shares", "dir/my nb.ipynb")
    assert listed["shares"] == []


async def test_shares_follow_a_rename_and_die_with_the_file(call, anon):
    await save(call, "proj/a.ipynb", "print('a')")
    await save(call, "top.ipynb", "print('top')")
    _, signed = await call("POST", "bookstore/shares", "proj/a.ipynb", body={"kind": "signed"})
    _, public = await call("POST", "bookstore/shares", "top.ipynb", body={"kind": "public"})
    # Renames: the links keep working, and the shares are listed where the files went.
    await call("PATCH", "api/contents", "proj", body={"path": "work"})
    await call("PATCH", "api/contents", "top.ipynb", body={"path": "renamed.ipynb"})
    _, listed = await call("GET", "bookstore/shares", "work/a.ipynb")
    assert [(s["id"], s["path"]) for s in listed["shares"]] == [(signed["id"], "work/a.ipynb")]
    _, listed = await call("GET", "bookstore/shares", "renamed.ipynb")
    assert [s["id"] for s in listed["shares"]] == [public["id"]]
    assert anon(signed["url"]).status == 200 and anon(public["url"]).status == 200
    # Deleting the files (one inside a folder) revokes their links.
    await call("DELETE", "api/contents", "work")
    await call("DELETE", "api/contents", "renamed.ipynb")
    assert anon(signed["url"]).status == 404 and anon(public["url"]).status == 404
    await save(call, "renamed.ipynb", "print('new file, same name')")
    _, listed = await call("GET", "bookstore/shares", "renamed.ipynb")
    assert listed["shares"] == []


async def test_errors_are_json_with_a_message(call):
    await save(call, "a.ipynb", "1")
    cases = [
        (call("POST", "bookstore/shares", "missing.ipynb"), 404, "missing.ipynb"),
        (call("POST", "bookstore/shares", "a.ipynb", body={"kind": "secret"}), 400, "kind"),
        (call("POST", "bookstore/shares", "a.ipynb", body={"expires": "soon"}), 400, "duration"),
        (call("POST", "bookstore/shares", "a.ipynb", body=["x"]), 400, "JSON object"),
        (call("DELETE", "bookstore/shares", "a.ipynb", id="nope"), 404, "nope"),
        (call("GET", "bookstore/shares", ".bookstore/shares/index"), 404, "No such file"),
        (call("GET", "bookstore/history", "missing.ipynb"), 404, "missing.ipynb"),
        (call("GET", "bookstore/history", "a.ipynb", id="19990101T000000-000000Z"), 404, "19990"),
        (call("GET", "bookstore/history", "a.ipynb", id="../x"), 400, "Invalid version"),
        (call("POST", "bookstore/history", "a.ipynb", body={"id": "current"}), 400, "checkpoint"),
        (call("POST", "bookstore/history", "a.ipynb", body={"id": 5}), 400, "Invalid version"),
        (call("POST", "bookstore/history", "a.ipynb", body={"id": ["x"]}), 400, "Invalid version"),
        (call("GET", "bookstore/diff", "a.ipynb"), 400, "Invalid version"),
    ]
    for request, status, words in cases:
        code, body = await error_of(request)
        assert (code, words in body["message"]) == (status, True), body
        assert not body.get("traceback")


async def test_history_view_diff_and_restore(call):
    await save(call, "h.ipynb", "# Title", "x = 1")  # the first save makes a checkpoint
    await save(call, "h.ipynb", "# Title", "x = 2", "y = 3")
    _, history = await call("GET", "bookstore/history", "h.ipynb")
    assert len(history["checkpoints"]) == 1 and history["current"]["id"] == "current"
    first = history["checkpoints"][0]
    assert first["size"] > 0 and first["created"].endswith("+00:00")

    _, old = await call("GET", "bookstore/history", "h.ipynb", id=first["id"])
    assert old["type"] == "notebook" and old["content"]["cells"][1]["source"] == "x = 1"
    _, now = await call("GET", "bookstore/history", "h.ipynb", id="current")
    assert now["content"]["cells"][1]["source"] == "x = 2"

    _, diff = await call("GET", "bookstore/diff", "h.ipynb", base=first["id"])
    assert diff["remote"]["id"] == "current" and diff["diff"]
    statuses = [(c["status"], c["lines"]) for c in diff["cells"]]
    assert statuses[0] == ("unchanged", [" Title"])
    assert statuses[1][0] == "modified" and {"-x = 1", "+x = 2"} <= set(statuses[1][1])
    assert statuses[2] == ("added", ["+y = 3"])

    code, restored = await call("POST", "bookstore/history", "h.ipynb", body={"id": first["id"]})
    assert code == 200 and restored["restored"] == first["id"]
    _, model = await call("GET", "api/contents", "h.ipynb")
    assert [c["source"] for c in model["content"]["cells"]] == ["Title", "x = 1"]
    # What the restore replaced is a checkpoint now: the restore can be undone.
    _, history = await call("GET", "bookstore/history", "h.ipynb")
    assert [c["id"] for c in history["checkpoints"]] == [restored["saved"]["id"], first["id"]]
    _, back = await call("GET", "bookstore/diff", "h.ipynb", base=restored["saved"]["id"])
    assert [c["status"] for c in back["cells"]] == ["unchanged", "modified", "removed"]


async def test_text_files_have_history_too(call):
    body = {"type": "file", "format": "text", "content": "one\ntwo\n"}
    await call("PUT", "api/contents", "notes.txt", body=body)
    _, cp = await call("POST", "api/contents", "notes.txt/checkpoints")
    body["content"] = "one\n2\n"
    await call("PUT", "api/contents", "notes.txt", body=body)
    _, diff = await call("GET", "bookstore/diff", "notes.txt", base=cp["id"])
    assert diff["diff"] is None and diff["cells"][0]["lines"][-2:] == ["-two", "+2"]
    _, old = await call("GET", "bookstore/history", "notes.txt", id=cp["id"])
    assert (old["format"], old["content"]) == ("text", "one\ntwo\n")


async def test_lifetimes_the_api_refuses(call, anon):
    """A lifetime on a public link, or one no link can have: 400 and a message, no link."""
    await save(call, "t.ipynb", "1")
    cases = [
        ({"kind": "public", "expires": "1h"}, "public links do not expire"),
        ({"kind": "public", "expires": "garbage"}, "public links do not expire"),
        ({"expires": "99999999999w"}, "at most 3650d"),
        ({"expires": "3000000d"}, "at most 3650d"),
        ({"expires": 1e300}, "at most 3650d"),
        ({"expires": float("inf")}, "bad duration"),
        ({"expires": float("nan")}, "bad duration"),
        ({"expires": 0.4}, "1 second or more"),
    ]
    for body, words in cases:
        code, error = await error_of(call("POST", "bookstore/shares", "t.ipynb", body=body))
        assert (code, words in error["message"]) == (400, True), (body, error)
    _, listed = await call("GET", "bookstore/shares", "t.ipynb")
    assert listed["shares"] == []


async def test_history_answers_are_json_a_browser_parses(call, jp_fetch):
    # A NaN in a notebook's metadata: null, as the contents API sends it (json.loads
    # would accept NaN; a browser's JSON.parse does not).
    raw = nb("x = 1")
    raw["metadata"]["x"] = float("nan")
    await call("PUT", "api/contents", "nan.ipynb", body={"type": "notebook", "content": raw})
    r = await jp_fetch("bookstore", "history", "nan.ipynb", params={"id": "current"})
    body = json.loads(r.body, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert body["content"]["metadata"]["x"] is None


async def test_diffs_too_big_to_compute_here_are_refused(call):
    await save(call, "big.ipynb", *(f"x = {i}" for i in range(600)))
    await save(call, "big.ipynb", *(f"x = {i + 1}" for i in range(600)))
    _, history = await call("GET", "bookstore/history", "big.ipynb")
    first = history["checkpoints"][0]["id"]
    code, body = await error_of(call("GET", "bookstore/diff", "big.ipynb", base=first))
    assert code == 413 and "too many cells" in body["message"]
