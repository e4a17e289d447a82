"""``bookstore share`` / ``unshare`` against the session's Swift (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from nbformat import writes
from nbformat.v4 import new_code_cell, new_notebook
from swiftclient.client import Connection

from bookstore.cli import main
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
