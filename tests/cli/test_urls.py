"""How a URL names a store and a key: ``ops.parse_target`` (pure, no server)."""

from __future__ import annotations

import pytest

from bookstore.ops import Target, local_target, overlaps, parse_target
from bookstore.stores.registry import StoreURLError, split_store_url


def no_roots(path: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("swift://notebooks", Target("swift", "notebooks", "")),
        ("swift://notebooks/", Target("swift", "notebooks", "")),
        (
            "swift://notebooks/alice/analysis.ipynb",
            Target("swift", "notebooks", "alice/analysis.ipynb"),
        ),
        ("swift://notebooks/alice/", Target("swift", "notebooks", "alice/")),
        ("s3://bucket/prefix/", Target("s3", "bucket", "prefix/")),
        ("memory://scratch/a/b", Target("memory", "scratch", "a/b")),
        # verbatim: no percent-decoding, ? and # are part of the name
        ("swift://c/Q&A #1?.ipynb", Target("swift", "c", "Q&A #1?.ipynb")),
        ("swift://c/100%25 done.ipynb", Target("swift", "c", "100%25 done.ipynb")),
        ("SWIFT://c/数据/ü.ipynb", Target("swift", "c", "数据/ü.ipynb")),
        # file: the parent folder is the store; a trailing / makes the folder itself the store
        ("file:///srv/nb/x.ipynb", Target("file", "/srv/nb", "x.ipynb")),
        ("file:///srv/nb/", Target("file", "/srv/nb", "")),
        ("file:///srv/nb", Target("file", "/srv", "nb")),
        ("file:///srv/x/../nb/y.ipynb", Target("file", "/srv/nb", "y.ipynb")),  # as a shell would
    ],
)
def test_parse_target(url, expected):
    assert parse_target(url, is_root=no_roots) == expected


def test_file_targets_use_the_nearest_contents_root_above():
    """A file under a Bookstore root is a key in that root, so its checkpoints are found."""

    def is_root(path: str) -> bool:
        return path == "/srv/nb"

    assert parse_target("file:///srv/nb/a/b/x.ipynb", is_root=is_root) == Target(
        "file", "/srv/nb", "a/b/x.ipynb"
    )
    assert parse_target("file:///srv/nb/a/", is_root=is_root) == Target("file", "/srv/nb", "a/")
    assert parse_target("file:///srv/nb/", is_root=is_root) == Target("file", "/srv/nb", "")


def test_bookstore_urls_are_keys_in_the_configured_store():
    home = "swift://notebooks/alice"
    assert parse_target("bookstore://data/x.csv", home=home) == Target(
        "swift", "notebooks", "alice/data/x.csv"
    )
    assert parse_target("bookstore://", home=home) == Target("swift", "notebooks", "alice/")
    with pytest.raises(StoreURLError, match="BOOKSTORE_STORE_URL"):
        parse_target("bookstore://data/x.csv")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notebooks/x.ipynb", "not a store URL"),
        ("ftp://host/x", "unknown store scheme"),
        ("swift:///x.ipynb", "names no container"),
        ("file://relative/dir", "absolute path"),
    ],
)
def test_bad_urls_say_what_is_wrong(url, message):
    with pytest.raises(StoreURLError, match=message):
        parse_target(url, is_root=no_roots)


def test_store_url_round_trips_through_the_registry():
    """The location reaches the store verbatim, even with characters URLs escape."""
    for location in ["/tmp/with space/100%", "/tmp/数据"]:
        t = Target("file", location, "x")
        assert split_store_url(t.store_url) == ("file", location, "")
    assert split_store_url(Target("swift", "c%d", "k").store_url) == ("swift", "c%d", "")


def test_local_paths(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "f.txt").write_text("x")
    assert local_target(str(tmp_path / "dir")) == Target("file", str(tmp_path / "dir"), "")
    assert local_target(str(tmp_path / "dir" / "f.txt")) == Target(
        "file", str(tmp_path / "dir"), "f.txt"
    )
    missing = tmp_path / "new"
    assert local_target(str(missing), folder=True) == Target("file", str(missing), "")


def test_overlaps():
    a = Target("swift", "c", "a/")
    assert overlaps(a, Target("swift", "c", "a/b/"))
    assert overlaps(Target("swift", "c", ""), a)
    assert not overlaps(a, Target("swift", "c", "ab/"))
    assert not overlaps(a, Target("swift", "other", "a/"))
    assert not overlaps(Target("file", "/x", "a"), Target("file", "/x", "b"))
    assert overlaps(Target("file", "/x/a", ""), Target("file", "/x", "a/b"))


def test_bookstore_urls_decode_the_configured_store_url_as_the_server_does():
    home = "swift://team%20notebooks/al%C3%AFce"
    assert parse_target("bookstore://x.ipynb", home=home) == Target(
        "swift", "team notebooks", "alïce/x.ipynb"
    )
    assert parse_target("bookstore://d/", home="file:///srv/my%20notes") == Target(
        "file", "/srv/my notes/d", ""
    )
