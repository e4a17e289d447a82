"""The filesystem through fsspec's own API and through pandas, on the real Swift."""

from __future__ import annotations

import hashlib
import json
import os

import pandas as pd
import pytest

import fsspec
from bookstore.fsspec_fs import BookstoreFileSystem

CSV = b"day,temperature,damage\n1,66,0\n2,70,1\n3,69,0\n"


def test_the_protocol_resolves_to_bookstore():
    assert fsspec.get_filesystem_class("bookstore") is BookstoreFileSystem


def test_pandas_reads_and_writes_beside_the_notebooks(fs):
    fs.pipe_file("data/x.csv", CSV)
    df = pd.read_csv("bookstore://data/x.csv")
    assert list(df.columns) == ["day", "temperature", "damage"]
    assert df["temperature"].sum() == 205

    df.assign(hot=df.temperature > 68).to_csv("bookstore://data/out.csv", index=False)
    assert fs.cat_file("data/out.csv").splitlines()[0] == b"day,temperature,damage,hot"
    assert pd.read_csv("bookstore://data/out.csv")["hot"].tolist() == [False, True, True]


def test_listing_info_and_folders(fs):
    fs.pipe_file("a/one.txt", b"1")
    fs.pipe_file("a/sub/two.txt", b"22")
    fs.makedirs("a/empty")
    assert fs.ls("a", detail=False) == ["a/empty", "a/sub", "a/one.txt"]
    assert fs.ls("", detail=False) == ["a"]
    assert fs.info("a/sub/two.txt")["size"] == 2
    assert fs.info("a/sub/two.txt")["etag"] == hashlib.md5(b"22").hexdigest()
    assert fs.isdir("a/empty") and fs.ls("a/empty") == []
    assert fs.isfile("a/one.txt") and not fs.exists("a/nope.txt")
    assert sorted(fs.find("a")) == ["a/one.txt", "a/sub/two.txt"]
    with pytest.raises(FileExistsError):
        fs.makedirs("a/empty", exist_ok=False)
    with pytest.raises(FileNotFoundError):
        fs.info("nothing/here")
    with pytest.raises(FileNotFoundError):
        fs.cat_file("a/missing.txt")


def test_bookstore_area_is_hidden_and_read_only(fs, swift_auth, container):
    from traitlets.config import Config

    from bookstore.stores.registry import open_store

    async def plant(store):
        await store.put(".bookstore/checkpoints/x.txt/20240101T000000-000000Z", b"old")
        await store.put("x.txt", b"new")

    store = open_store(f"swift://{container}", config=Config({"SwiftStore": swift_auth}))
    fsspec.asyn.sync(fs.loop, plant, store)
    fsspec.asyn.sync(fs.loop, store.close)
    assert fs.ls("", detail=False) == ["x.txt"]
    with pytest.raises(PermissionError):
        fs.pipe_file(".bookstore/checkpoints/x.txt/forged", b"evil")
    with pytest.raises(ValueError, match=r"'\.\.'"):
        fs.cat_file("a/../x.txt")


def test_ranges_and_streamed_reads(fs):
    data = os.urandom(3 << 20)
    fs.pipe_file("big.bin", data)
    assert fs.cat_file("big.bin", start=10, end=20) == data[10:20]
    assert fs.cat_file("big.bin", start=-5) == data[-5:]
    with fs.open("big.bin", block_size=256 << 10) as f:
        assert f.read(100) == data[:100]
        f.seek(2 << 20)
        assert f.read(1000) == data[2 << 20 : (2 << 20) + 1000]
        f.seek(50)  # backwards: the stream starts again
        assert f.read(10) == data[50:60]
        f.seek(0)
        assert hashlib.md5(f.read()).digest() == hashlib.md5(data).digest()


def test_writes_appear_whole_on_close(fs):
    with fs.open("w/file.bin", "wb", block_size=1 << 20) as f:
        for _ in range(12):  # past the in-memory spool: goes through a temporary file
            f.write(b"x" * (1 << 20))
        assert not fs.exists("w/file.bin")
    assert fs.info("w/file.bin")["size"] == 12 << 20
    with fs.open("w/new.txt", "xb") as f:
        f.write(b"once")
    with pytest.raises(FileExistsError), fs.open("w/new.txt", "xb") as f:
        f.write(b"twice")
    assert fs.cat_file("w/new.txt") == b"once"
    with pytest.raises(NotImplementedError):
        fs.open("w/new.txt", "ab")


def test_put_get_and_rm(fs, tmp_path):
    local = tmp_path / "local"
    (local / "d").mkdir(parents=True)
    (local / "d" / "f.csv").write_bytes(CSV)
    (local / "g.txt").write_bytes(b"g")
    fs.put(str(local) + "/", "up", recursive=True)
    assert sorted(fs.find("up")) == ["up/d/f.csv", "up/g.txt"]
    fs.get("up/", str(tmp_path / "down") + "/", recursive=True)
    assert (tmp_path / "down" / "d" / "f.csv").read_bytes() == CSV
    with pytest.raises(IsADirectoryError):
        fs.rm("up")
    fs.rm_file("up/g.txt")
    fs.rm("up", recursive=True)
    assert not fs.exists("up")
    with pytest.raises(FileNotFoundError):
        fs.rm_file("up/g.txt")


def test_store_and_credentials_from_the_jupyter_config(bookstore_env, monkeypatch, swift_auth):
    """No BOOKSTORE_STORE_URL and no ST_* variables: everything from jupyter_server_config."""
    for name in ("BOOKSTORE_STORE_URL", "ST_AUTH", "ST_USER", "ST_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("JUPYTERHUB_USER", "Ann.Lee")
    (bookstore_env / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "BookstoreContentsManager": {"store_url": "swift://users/{username}"},
                "SwiftStore": swift_auth,
            }
        )
    )
    fs = fsspec.filesystem("bookstore")
    assert fs.store_url == "swift://users/-41nn-2e-4cee"
    fs.pipe_file("mine.csv", CSV)
    assert pd.read_csv("bookstore://mine.csv").shape == (3, 3)


def test_no_store_configured_says_how_to_configure_one(bookstore_env, monkeypatch):
    monkeypatch.delenv("BOOKSTORE_STORE_URL")
    with pytest.raises(ValueError, match="BOOKSTORE_STORE_URL"):
        fsspec.filesystem("bookstore")


def test_wrong_credentials_are_permission_errors(bookstore_env, monkeypatch):
    monkeypatch.setenv("ST_KEY", "wrong")
    with pytest.raises(PermissionError):
        fsspec.filesystem("bookstore").ls("")


def test_a_write_that_fails_half_way_keeps_the_stored_file(fs):
    fs.pipe_file("w/good.csv", b"a,b\n1,2\n3,4\n")
    with pytest.raises(RuntimeError), fs.open("w/good.csv", "wb") as f:
        f.write(b"a,b\n")
        raise RuntimeError("the generator failed half way")
    assert fs.cat_file("w/good.csv") == b"a,b\n1,2\n3,4\n"
    with pytest.raises(RuntimeError), fs.open("w/never.csv", "wb") as f:
        f.write(b"partial")
        raise RuntimeError("no file either")
    assert not fs.exists("w/never.csv")


def test_pandas_failing_half_way_keeps_the_stored_file(fs):
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("cannot format this row")

    good = pd.DataFrame({"a": range(20000), "b": ["x"] * 20000})
    good.to_csv("bookstore://w/clean.csv", index=False)
    bad = good.astype(object)
    bad.loc[19000, "b"] = Unprintable()
    with pytest.raises(RuntimeError, match="cannot format"):
        bad.to_csv("bookstore://w/clean.csv", index=False)
    assert len(pd.read_csv("bookstore://w/clean.csv")) == 20000


def test_a_write_inside_an_except_block_is_kept(fs):
    try:
        raise KeyError("handled already")
    except KeyError:
        with fs.open("w/recovery.txt", "wb") as f:
            f.write(b"written while handling another error")
    assert fs.cat_file("w/recovery.txt") == b"written while handling another error"
