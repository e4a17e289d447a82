"""``bookstore share`` / ``unshare`` against the session's Swift (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from nbformat import writes
from nbformat.v4 import new_code_cell, new_notebook
from swiftclient.client import Connection
from traitlets.config import Config

from bookstore import BookstoreContentsManager
from bookstore.cli import main
from bookstore.stores.registry import open_store
from kinds import unique


@pytest.fixture
def run(swift_aio, tmp_path: Path):
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    env = {
        "ST_AUTH": swift_aio.auth_url,
        "ST_USER": swift_aio.user,
        "ST_KEY": swift_aio.key,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "BOOKSTORE_STORE_URL": "",
    }

    def invoke(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, result.output + result.stderr
        return result

    return invoke


@pytest.fixture
def container(swift_aio):
    """A container holding alice/nb.ipynb, with a checkpoint as a server would make it."""
    name = unique("cli-share")
    body = writes(new_notebook(cells=[new_code_cell("'from the shell'")])).encode()
    conn = Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)
    conn.put_container(name)
    conn.put_object(name, "alice/nb.ipynb", body)
    conn.put_object(name, "alice/.bookstore/checkpoints/nb.ipynb/20260101T000000-000000Z", body)
    conn.close()
    return name


def test_share_prints_links_last_line_plain(run, container, anon):
    result = run("share", f"swift://{container}/alice/nb.ipynb", "--expires", "30m")
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("signed link to nb.ipynb, expires ") and "(30m)" in lines[0]
    assert lines[1].startswith("viewer: https://nbviewer.org/url/")
    link = lines[-1]
    assert link.startswith("http://") and "temp_url_sig=" in link
    assert b"'from the shell'" in anon(link).body
    # Found the contents root: the record sits where the server on alice/ looks.
    assert "/alice/.bookstore/shares/" in link

    public = run("share", f"swift://{container}/alice/nb.ipynb", "--public", "--json")
    made = json.loads(public.stdout)
    assert made["kind"] == "public" and anon(made["url"]).status == 200

    gone = run("unshare", f"swift://{container}/alice/nb.ipynb")
    assert gone.stdout.count("revoked ") == 2
    assert anon(link).status == 404 and anon(made["url"]).status == 404
    assert "had no shares" in run("unshare", f"swift://{container}/alice/nb.ipynb").stdout


def test_share_usage_errors(run, container):
    url = f"swift://{container}/alice/nb.ipynb"
    assert "bad duration" in run("share", url, "--expires", "soon", code=2).stderr
    assert "do not expire" in run("share", url, "--public", "--expires", "1h", code=2).stderr
    assert "not found" in run("share", f"swift://{container}/alice/nope.ipynb", code=3).stderr
    assert "no share" in run("unshare", url, "--id", "abc", code=3).stderr
    memory = run("share", "memory://nowhere/x.ipynb", code=2)
    assert "links need a swift:// or s3:// store" in memory.stderr


def test_share_refuses_absurd_lifetimes(run, container):
    url = f"swift://{container}/alice/nb.ipynb"
    for expires in ("99999999999w", "3000000d"):
        assert "at most 3650d" in run("share", url, "--expires", expires, code=2).stderr


@pytest.fixture
def fresh(swift_aio, container):
    """alice/fresh.ipynb: never checkpointed nor shared, beside a server's alice/.bookstore/."""
    conn = Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)
    conn.put_object(container, "alice/fresh.ipynb", writes(new_notebook()).encode())
    conn.close()
    return f"swift://{container}/alice/fresh.ipynb"


def test_a_file_without_history_is_shared_where_its_server_looks(
    run, container, fresh, swift_aio, anon, jp_asyncio_loop
):
    """The record lands in alice/.bookstore/: the server on alice/ lists the share, and
    deleting the file there revokes the link."""
    made = json.loads(run("share", fresh, "--public", "--json").stdout)
    auth = {"auth_url": swift_aio.auth_url, "user": swift_aio.user, "key": swift_aio.key}
    store = open_store(f"swift://{container}/alice", config=Config({"SwiftStore": auth}))

    async def in_jupyter() -> list[str]:
        cm = BookstoreContentsManager(store=store)
        listed = [s.id for s in await cm.sharing().list("fresh.ipynb")]
        await cm.delete_file("fresh.ipynb")
        await store.close()
        return listed

    assert jp_asyncio_loop.run_until_complete(in_jupyter()) == [made["id"]]
    assert anon(made["url"]).status == 404


def test_the_configured_store_gives_the_root(run, container, swift_aio, tmp_path):
    """No .bookstore/ anywhere yet: the user's own server's root is where it goes."""
    conn = Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)
    name = unique("cli-root")
    conn.put_container(name)
    conn.put_object(name, "bob/work/x.ipynb", writes(new_notebook()).encode())
    config = tmp_path / "bookstore_config.py"
    config.write_text(f"c.BookstoreContentsManager.store_url = 'swift://{name}/bob'\n")
    made = json.loads(run("--config", str(config), "share", f"swift://{name}/bob/work/x.ipynb",
                          "--json").stdout)  # fmt: skip
    _, objects = conn.get_container(name, prefix="bob/.bookstore/shares/index/")
    assert [o["name"] for o in objects] == [
        f"bob/.bookstore/shares/index/work/x.ipynb/{made['id']}.json"
    ]
    conn.close()
