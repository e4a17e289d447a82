"""Each command once against the real Swift: output, side effects and exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from cli_helpers import BUNDLED, files_under
from traitlets.config import Config

from bookstore.contents.checkpoints import checkpoint_prefix, new_checkpoint_id
from bookstore.stores.registry import open_store


class Swift:
    """Direct access to a container, to set up and check what the command did."""

    def __init__(self, swift_aio, container: str) -> None:
        self.url = f"swift://{container}"
        self.config = Config(
            {
                "SwiftStore": {
                    "auth_url": swift_aio.auth_url,
                    "user": swift_aio.user,
                    "key": swift_aio.key,
                }
            }
        )

    def run(self, fn):
        async def go():
            store = open_store(self.url, config=self.config)
            try:
                return await fn(store)
            finally:
                await store.close()

        return anyio.run(go)

    def put(self, key: str, data: bytes) -> None:
        self.run(lambda s: s.put(key, data))

    def get(self, key: str) -> bytes:
        async def get(s):
            return (await s.get(key))[1]

        return self.run(get)

    def keys(self) -> list[str]:
        async def keys(s):
            return sorted(
                [o.key async for page in s.list("", delimiter=None) for o in page.objects]
            )

        return self.run(keys)

    def checkpoint(self, key: str, data: bytes, root: str = "", cid: str | None = None) -> str:
        cid = cid or new_checkpoint_id()
        self.put(root + checkpoint_prefix(key[len(root) :]) + cid, data)
        return cid


@pytest.fixture
def swift(swift_aio, container) -> Swift:
    return Swift(swift_aio, container)


# --- ls, cat --------------------------------------------------------------------------


def test_ls_lists_folders_then_files_with_sizes(cli, swift, container):
    swift.put("nb/a.ipynb", b"{}")
    swift.put("nb/sub/b.ipynb", b"{}")
    swift.put("nb/empty/", b"")
    swift.put("nb/.bookstore/checkpoints/a.ipynb/x", b"{}")
    text = cli("ls", f"swift://{container}/nb/").stdout
    assert "a.ipynb" in text and "sub/" in text and "empty/" in text
    assert ".bookstore" not in text

    entries = cli.json("ls", f"swift://{container}/nb")
    assert [(e["name"], e["kind"], e["size"]) for e in entries] == [
        ("empty/", "folder", None),
        ("sub/", "folder", None),
        ("a.ipynb", "file", 2),
    ]
    assert entries[2]["modified"].endswith("+00:00")
    assert ".bookstore/" in [e["name"] for e in cli.json("ls", "--all", f"swift://{container}/nb")]
    [one] = cli.json("ls", f"swift://{container}/nb/a.ipynb")
    assert one["name"] == "a.ipynb" and one["etag"] == hashlib.md5(b"{}").hexdigest()


def test_cat_writes_the_exact_bytes(cli, swift, container):
    data = (BUNDLED / "workspace/Chapter2_MorePyMC/sms_model.png").read_bytes()
    swift.put("img.png", data)
    assert cli("cat", f"swift://{container}/img.png").stdout_bytes == data


# --- rm -------------------------------------------------------------------------------


def test_rm_removes_the_file_and_its_checkpoints_at_any_root(cli, swift, container):
    swift.put("alice/nb.ipynb", b"{}")
    swift.put("alice/other.ipynb", b"{}")
    swift.checkpoint("alice/nb.ipynb", b"old", root="alice/")  # a server rooted at alice/
    swift.checkpoint("alice/nb.ipynb", b"older")  # a server rooted at the container
    swift.checkpoint("alice/other.ipynb", b"keep", root="alice/")
    result = cli.json("rm", f"swift://{container}/alice/nb.ipynb")
    assert result == {"ok": True, "objects": 1, "checkpoints": 2, "links": 0}
    assert [k for k in swift.keys() if "nb.ipynb" in k] == []
    assert "alice/other.ipynb" in swift.keys()
    assert any("other.ipynb/" in k for k in swift.keys())


def test_rm_of_a_folder_needs_r(cli, swift, container):
    swift.put("dir/a.ipynb", b"{}")
    swift.put("dir/sub/b.txt", b"b")
    swift.put("keep.txt", b"k")
    swift.checkpoint("dir/a.ipynb", b"old")
    cli("rm", f"swift://{container}/dir", code=2)
    assert cli.json("rm", "-r", f"swift://{container}/dir") == {
        "ok": True,
        "objects": 2,
        "checkpoints": 1,
        "links": 0,
    }
    assert swift.keys() == ["keep.txt"]


def _fetch(url: str) -> int:
    """The status of an anonymous GET: no token, no signature but the link's own."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def test_rm_revokes_the_links_of_what_it_deletes(cli, swift, container):
    # `share` records a share where the file's Jupyter server looks: here alice/, whose
    # .bookstore/ holds checkpoints (see commands_share._share_roots).
    swift.put("alice/nb.ipynb", b"{}")
    swift.put("alice/project/a.ipynb", b"{}")
    swift.put("alice/project/sub/b.txt", b"b")
    swift.put("alice/keep.txt", b"k")
    swift.checkpoint("alice/nb.ipynb", b"old", root="alice/")
    swift.checkpoint("alice/keep.txt", b"old", root="alice/")

    def share(key: str, *extra: str) -> str:
        return cli("share", f"swift://{container}/{key}", *extra).stdout.strip().splitlines()[-1]

    def records() -> list[str]:
        return [k for k in swift.keys() if ".bookstore/shares/index/" in k]

    nb, kept = share("alice/nb.ipynb"), share("alice/keep.txt")
    a, a_public = share("alice/project/a.ipynb"), share("alice/project/a.ipynb", "--public")
    b = share("alice/project/sub/b.txt")
    assert all(_fetch(link) == 200 for link in (nb, kept, a, a_public, b))
    assert "/alice/.bookstore/shares/" in nb and "/alice/.bookstore/shares/" in a

    text = cli("rm", f"swift://{container}/alice/nb.ipynb").stdout
    assert text.strip() == "removed 1 object(s), 1 checkpoint(s), revoked 1 link(s)"
    assert _fetch(nb) == 404
    assert not [k for k in swift.keys() if "nb.ipynb" in k]  # record and snapshot too

    assert cli.json("rm", "-r", f"swift://{container}/alice/project")["links"] == 3
    assert [_fetch(link) for link in (a, a_public, b)] == [404, 404, 404]
    assert not [k for k in swift.keys() if "project" in k]
    assert _fetch(kept) == 200  # a link to what stays still works
    [record] = records()
    assert record.startswith("alice/.bookstore/shares/index/keep.txt/")

    # The contents root itself: the share records inside what goes are revoked first.
    assert cli.json("rm", "-r", f"swift://{container}/alice")["links"] == 1
    assert _fetch(kept) == 404 and swift.keys() == []


def test_rm_of_nothing_is_not_found(cli, swift, container):
    swift.put("keep.txt", b"k")
    out = cli.json("rm", f"swift://{container}/nope.ipynb", code=3)
    assert out["error"]["type"] == "NotFound" and out["error"]["exit_code"] == 3


# --- history, restore -----------------------------------------------------------------


def test_history_and_restore(cli, swift, container):
    swift.put("p/nb.ipynb", b"now")
    first = swift.checkpoint("p/nb.ipynb", b"first")
    second = swift.checkpoint("p/nb.ipynb", b"second!")
    url = f"swift://{container}/p/nb.ipynb"

    listed = cli.json("history", url)
    assert [(c["id"], c["size"]) for c in listed] == [(second, 7), (first, 5)]
    assert listed[0]["created"] > listed[1]["created"]
    assert second in cli("history", url).stdout

    restored = cli.json("restore", url, first)
    assert restored["restored"] == first
    assert swift.get("p/nb.ipynb") == b"first"
    # What it replaced is the newest checkpoint now: `latest` undoes the restore.
    assert "kept as checkpoint" in cli("restore", url, "latest").stdout
    assert swift.get("p/nb.ipynb") == b"now"
    assert cli.json("restore", url, "20000101T000000-000000Z", code=3)["ok"] is False
    cli("history", f"swift://{container}/p/missing.ipynb", code=3)
    history = cli.json("history", f"swift://{container}/p/nb.ipynb")
    assert [(c["id"], c["size"]) for c in history] == [
        (history[0]["id"], 5),  # "first", replaced by the undo
        (restored["saved"]["id"], 3),  # "now", replaced by the restore
        (second, 7),
        (first, 5),
    ]


def test_restore_latest_undoes_a_restore_beside_checkpoints_from_a_clock_ahead(
    cli, swift, container
):
    swift.put("p/nb.ipynb", b"now")
    old = swift.checkpoint("p/nb.ipynb", b"old")
    ahead = new_checkpoint_id(datetime.now(UTC) + timedelta(minutes=5))
    swift.checkpoint("p/nb.ipynb", b"from a server whose clock is ahead", cid=ahead)
    url = f"swift://{container}/p/nb.ipynb"
    cli("restore", url, old)
    cli("restore", url, "latest")
    assert swift.get("p/nb.ipynb") == b"now"


# --- push, pull, sync -----------------------------------------------------------------


def test_push_pull_round_trip_only_sends_what_changed(cli, swift, container, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(BUNDLED, src)
    big = os.urandom(9 << 20)  # above the streaming threshold: streamed both ways
    (src / "big.bin").write_bytes(big)
    (src / "empty-folder").mkdir()
    expected = files_under(src)

    report = cli.json("push", str(src), f"swift://{container}/proj")
    assert report["ok"] and report["transferred"] == len(expected) + 1  # + the folder marker
    assert report["bytes"] == sum(map(len, expected.values()))
    assert "proj/empty-folder/" in swift.keys()
    assert swift.get("proj/big.bin") == big

    again = cli.json("push", str(src), f"swift://{container}/proj")
    assert (again["transferred"], again["skipped"]) == (0, len(expected) + 1)

    # Same size, other bytes: only an MD5 tells them apart.
    readme = src / "README.md"
    readme.write_bytes(readme.read_bytes().upper())
    changed = cli.json("push", str(src), f"swift://{container}/proj")
    assert changed["keys"]["transferred"] == ["proj/README.md"]

    dst = tmp_path / "pulled"
    assert cli.json("pull", f"swift://{container}/proj/", str(dst))["ok"]
    assert files_under(dst) == files_under(src)
    assert (dst / "empty-folder").is_dir()
    assert cli.json("pull", f"swift://{container}/proj/", str(dst))["transferred"] == 0


def test_push_and_pull_of_one_file(cli, swift, container, tmp_path):
    f = tmp_path / "one.ipynb"
    f.write_bytes(b'{"x": 1}')
    cli("push", str(f), f"swift://{container}/into/")
    cli("push", str(f), f"swift://{container}/renamed.ipynb")
    assert swift.keys() == ["into/one.ipynb", "renamed.ipynb"]
    out = tmp_path / "out"
    cli("pull", f"swift://{container}/renamed.ipynb", str(out))
    assert (out / "renamed.ipynb").read_bytes() == b'{"x": 1}'


def test_dry_run_changes_nothing(cli, swift, container, tmp_path):
    swift.put("a.txt", b"old")
    swift.put("extra.txt", b"x")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"new!")
    (src / "b.txt").write_bytes(b"b")
    before = {k: swift.get(k) for k in swift.keys()}

    report = cli.json("sync", "--dry-run", "--delete", str(src), f"swift://{container}")
    assert report["dry_run"] and report["keys"]["transferred"] == ["a.txt", "b.txt"]
    assert report["keys"]["deleted"] == ["extra.txt"]
    assert (
        "would delete extra.txt"
        in cli("sync", "-n", "--delete", str(src), f"swift://{container}").stdout
    )
    assert {k: swift.get(k) for k in swift.keys()} == before

    pulled = tmp_path / "pulled"
    cli("pull", "--dry-run", f"swift://{container}", str(pulled))
    assert not pulled.exists()
    # to a container that does not exist yet: everything would go, nothing is created
    new = f"{container}-new"
    assert cli.json("push", "-n", str(src), f"swift://{new}/")["transferred"] == 2
    cli("ls", f"swift://{new}/", code=3)


def test_sync_delete_removes_extras_but_not_checkpoints(cli, swift, container, tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "keep.txt").write_bytes(b"k")
    (src / "d" / "f.txt").write_bytes(b"f")
    swift.put("extra.txt", b"x")
    swift.put("d/extra.txt", b"x")
    swift.put("keep.txt", b"k")
    cid = swift.checkpoint("keep.txt", b"old")

    kept = cli.json("sync", str(src), f"swift://{container}")
    assert kept["deleted"] == 0 and "extra.txt" in swift.keys()
    report = cli.json("sync", "--delete", str(src), f"swift://{container}")
    assert sorted(report["keys"]["deleted"]) == ["d/extra.txt", "extra.txt"]
    assert swift.keys() == sorted([".bookstore/checkpoints/keep.txt/" + cid, "d/f.txt", "keep.txt"])


def test_sync_between_two_stores(cli, swift, container, swift_aio):
    swift.put("a/x.txt", b"x")
    swift.put("a/y/", b"")
    other = Swift(swift_aio, container + "-copy")
    cli("sync", f"swift://{container}/a/", f"swift://{container}-copy/b/")
    assert other.keys() == ["b/x.txt", "b/y/"]
    cli("sync", f"swift://{container}/a/", f"swift://{container}/a/inner/", code=2)  # overlap


# --- configuration, exit codes --------------------------------------------------------


def test_credentials_from_the_jupyter_server_config(cli, swift, container, swift_aio):
    swift.put("x.txt", b"x")
    (cli.config_dir / "jupyter_server_config.py").write_text(
        f"c.SwiftStore.auth_url = {swift_aio.auth_url!r}\n"
        f"c.SwiftStore.user = {swift_aio.user!r}\n"
        f"c.SwiftStore.key = {swift_aio.key!r}\n"
        f"c.BookstoreContentsManager.store_url = 'swift://{container}'\n"
    )
    no_env = {"ST_AUTH": "", "ST_USER": "", "ST_KEY": ""}
    assert [e["name"] for e in cli.json("ls", f"swift://{container}", env=no_env)] == ["x.txt"]
    assert cli("cat", "bookstore://x.txt", env=no_env).stdout == "x"


def test_exit_codes(cli, swift, container, tmp_path):
    swift.put("x.txt", b"x")
    cli("ls", "--no-such-option", code=2)
    cli("ls", "ftp://host/x", code=2)
    cli("ls", f"swift://{container}/missing/", code=3)
    cli("cat", f"swift://{container}/missing.txt", code=3)
    # a missing container is not found, and is not created by a read
    cli("ls", f"swift://{container}-absent/", code=3)
    cli("ls", f"swift://{container}-absent/", code=3)
    out = cli.json("ls", f"swift://{container}", code=4, env={"ST_KEY": "wrong"})
    assert out["error"]["type"] == "Unauthenticated"
    cli("ls", f"swift://{container}", code=4, env={"ST_USER": "", "ST_KEY": ""})

    # unreachable: no retries (from a --config file) so it fails at once
    config = tmp_path / "fast.json"
    config.write_text(json.dumps({"SwiftStore": {"retries": 0, "timeout": 2}}))
    cli(
        "--config",
        str(config),
        "ls",
        f"swift://{container}",
        code=5,
        env={"ST_AUTH": "http://127.0.0.1:9/auth/v1.0"},
    )
    cli("push", str(tmp_path / "nope"), f"swift://{container}", code=2)  # click: no such path
    # {username} without JUPYTERHUB_USER: refused, not one store for everybody
    cli("cat", "bookstore://x.txt", code=2, env={"BOOKSTORE_STORE_URL": "swift://nb-{username}"})
    (cli.config_dir / "jupyter_server_config.py").write_text("c.SwiftStore.key = (\n")
    assert "cannot read the Jupyter config" in cli("ls", f"swift://{container}", code=2).stderr


def test_no_rights_is_exit_4(cli, swift, container, swift_aio):
    swift.put("x.txt", b"x")
    env = {"ST_USER": "test:tester3", "ST_KEY": "testing3"}  # same account, no ACL
    assert cli.json("ls", f"swift://{container}", code=4, env=env)["error"]["type"] == (
        "PermissionDenied"
    )


def test_help_lists_every_command(cli):
    text = cli("--help").stdout
    for command in [
        "ls",
        "cat",
        "rm",
        "push",
        "pull",
        "sync",
        "migrate",
        "history",
        "restore",
        "swift-aio",
    ]:
        assert command in text
    assert "Exit codes" in text


def test_cli_entry_point_runs_as_a_module(swift_env):
    r = subprocess.run(
        [sys.executable, "-m", "bookstore.cli", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, **swift_env},
        timeout=60,
    )
    assert r.returncode == 0 and "migrate" in r.stdout
