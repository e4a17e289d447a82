"""What the copying commands must never do: empty a destination from a source that is
not there, call a good copy of a Swift large object corrupt, leave files out without
saying so, lose a sub-folder's checkpoints, or delete through a second name of the
source. Against the session's real Swift (and its S3 API)."""

from __future__ import annotations

import hashlib
import json
import os

from cli_helpers import files_under
from swiftclient.client import Connection
from test_commands import Swift

from bookstore.stores.memory import MemoryStore
from kinds import s3_bucket, s3_options, unique


def _conn(swift_aio) -> Connection:
    return Connection(authurl=swift_aio.auth_url, user=swift_aio.user, key=swift_aio.key)


# --- a source that is not there ---------------------------------------------------------


def test_sync_delete_from_a_missing_folder_with_a_slash_deletes_nothing(
    cli, swift_aio, container, tmp_path
):
    swift = Swift(swift_aio, container)
    swift.put("proj/a.ipynb", b"{}")
    for src in (f"{tmp_path}/typo/", f"file://{tmp_path}/not-mounted/"):
        for command in ("sync", "migrate"):
            result = cli(command, "--delete", src, f"swift://{container}/proj", code=3)
            assert "no folder" in result.stderr
    assert swift.keys() == ["proj/a.ipynb"]


def test_sync_delete_from_an_unknown_memory_store_deletes_nothing(cli, swift_aio, container):
    swift = Swift(swift_aio, container)
    swift.put("a.ipynb", b"{}")
    name = unique("nowhere")
    cli("sync", "--delete", f"memory://{name}/", f"swift://{container}/", code=3)
    MemoryStore.forget(name)
    assert swift.keys() == ["a.ipynb"]


def test_sync_delete_from_an_empty_folder_is_refused(cli, swift_aio, container, tmp_path):
    """An empty mount point is the usual way a disk that is not mounted looks."""
    swift = Swift(swift_aio, container)
    swift.put("a.ipynb", b"{}")
    (tmp_path / "mnt").mkdir()
    result = cli("sync", "--delete", f"{tmp_path}/mnt/", f"swift://{container}/", code=3)
    assert "refusing to delete" in result.stderr
    assert swift.keys() == ["a.ipynb"]


# --- Swift large objects ----------------------------------------------------------------


def _large_objects(swift_aio, container: str) -> bytes:
    """``slo.bin`` (a static large object) and ``dlo.bin`` (a dynamic one) of 3 segments."""
    data = os.urandom(3 * 1024 * 1024 + 5)
    parts = [data[i : i + 1024 * 1024] for i in range(0, len(data), 1024 * 1024)]
    segs = container + "_segments"
    conn = _conn(swift_aio)
    try:
        conn.put_container(container)
        conn.put_container(segs)
        manifest = []
        for i, part in enumerate(parts):
            conn.put_object(segs, f"slo/{i:03d}", part)
            conn.put_object(segs, f"dlo/{i:03d}", part)
            manifest.append({"path": f"/{segs}/slo/{i:03d}", "etag": hashlib.md5(part).hexdigest()})
        conn.put_object(
            container,
            "slo.bin",
            json.dumps(manifest),
            query_string="multipart-manifest=put",
        )
        conn.put_object(container, "dlo.bin", b"", headers={"X-Object-Manifest": f"{segs}/dlo/"})
        headers = conn.head_object(container, "slo.bin")
        assert headers["etag"].strip('"') != hashlib.md5(data).hexdigest()
    finally:
        conn.close()
    return data


def test_swift_large_objects_copy_verify_and_then_skip(cli, swift_aio, container, tmp_path):
    data = _large_objects(swift_aio, container)
    dst = tmp_path / "dst"
    report = cli.json("sync", f"swift://{container}/", f"{dst}/")
    assert report["ok"] and report["failed"] == 0
    assert files_under(dst) == {"slo.bin": data, "dlo.bin": data}
    again = cli.json("sync", f"swift://{container}/", f"{dst}/")
    assert sorted(again["keys"]["skipped"]) == ["dlo.bin", "slo.bin"]
    copy = unique("copy")
    assert cli.json("migrate", f"swift://{container}/", f"swift://{copy}/")["ok"]
    assert Swift(swift_aio, copy).get("slo.bin") == data


# --- what a listing leaves out --------------------------------------------------------


def test_push_names_symlinks_and_non_utf8_names_it_leaves_out(cli, swift_aio, container, tmp_path):
    swift = Swift(swift_aio, container)
    swift.put("proj/data.csv", b"pushed before it became a link")
    proj, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    proj.mkdir()
    (elsewhere / "dir").mkdir(parents=True)
    (elsewhere / "data.csv").write_text("real")
    (proj / "a.ipynb").write_text("{}")
    (proj / "data.csv").symlink_to(elsewhere / "data.csv")
    (proj / "dir").symlink_to(elsewhere / "dir")
    open(os.fsencode(proj) + b"/caf\xe9.txt", "wb").close()
    report = cli.json("push", "--delete", str(proj), f"swift://{container}/proj", code=1)
    assert not report["ok"] and report["left_out"] == 3
    assert sorted(report["keys"]["left_out"]) == [
        f"{proj}/caf\\xe9.txt",
        f"{proj}/data.csv",
        f"{proj}/dir",
    ]
    assert report["keys"]["transferred"] == ["proj/a.ipynb"]
    assert report["deleted"] == 0  # not everything was copied: nothing deleted
    assert swift.keys() == ["proj/a.ipynb", "proj/data.csv"]
    text = cli("push", str(proj), f"swift://{container}/proj", code=1)
    assert f"left out: {proj}/data.csv: a symlink" in text.stderr


# --- checkpoints of a sub-folder --------------------------------------------------------


def test_sync_checkpoints_of_a_sub_folder_carries_those_at_the_root(
    cli, swift_aio, container, tmp_path
):
    root = tmp_path / "root"
    (root / "proj").mkdir(parents=True)
    (root / "proj" / "a.ipynb").write_text("v2")
    ck = root / ".bookstore" / "checkpoints" / "proj" / "a.ipynb"
    ck.mkdir(parents=True)
    (ck / "20260101T000000-000000Z").write_text("v1")
    report = cli.json("sync", "--checkpoints", str(root / "proj"), f"swift://{container}/proj")
    assert report["ok"] and report["transferred"] == 2
    history = cli.json("history", f"swift://{container}/proj/a.ipynb")
    assert [c["id"] for c in history] == ["20260101T000000-000000Z"]
    swift = Swift(swift_aio, container)
    assert swift.get(".bookstore/checkpoints/proj/a.ipynb/20260101T000000-000000Z") == b"v1"
    again = cli.json("sync", "--checkpoints", str(root / "proj"), f"swift://{container}/proj")
    assert again["transferred"] == 0 and again["skipped"] == 2


# --- one container, two names -----------------------------------------------------------


def test_sync_delete_between_swift_and_its_s3_name_of_one_container_is_refused(
    cli, swift_aio, tmp_path
):
    bucket = s3_bucket(swift_aio)
    swift = Swift(swift_aio, bucket)
    swift.put("proj/a.ipynb", b"{}")
    swift.put("keep.ipynb", b"{}")
    config = tmp_path / "s3_config.py"
    config.write_text(f"c.S3Store.update({s3_options(swift_aio)!r})\n")
    args = ("--config", str(config), "sync", "--delete", f"swift://{bucket}/proj")
    result = cli(*args, f"s3://{bucket}/", code=2)
    assert "one container" in result.stderr
    assert swift.keys() == ["keep.ipynb", "proj/a.ipynb"]  # the probe is gone too
    # Another bucket of the same service is no alias: the copy goes ahead.
    other = s3_bucket(swift_aio)
    assert cli.json(*args, f"s3://{other}/")["transferred"] == 1


# --- usage errors -----------------------------------------------------------------------


def test_cat_of_a_folder_and_a_bad_checkpoint_id_are_usage_errors(cli, swift_aio, container):
    Swift(swift_aio, container).put("nb/a.ipynb", b"{}")
    assert "is a folder" in cli("cat", f"swift://{container}/nb/", code=2).stderr
    result = cli("restore", f"swift://{container}/nb/a.ipynb", "../../x", code=2)
    assert "invalid checkpoint id" in result.stderr
