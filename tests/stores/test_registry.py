"""Store URLs: which store each names, and what a person is told when one can't be used."""

from __future__ import annotations

import pytest

from bookstore.stores import registry
from bookstore.stores.registry import StoreURLError, open_store, split_store_url


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("swift://notebooks", ("swift", "notebooks", "")),
        ("swift://notebooks/alice", ("swift", "notebooks", "alice/")),
        ("swift://notebooks/alice/work/", ("swift", "notebooks", "alice/work/")),
        ("s3://bucket/a%20b", ("s3", "bucket", "a b/")),
        ("file:///srv/notebooks", ("file", "/srv/notebooks", "")),
        ("memory://shared", ("memory", "shared", "")),
        ("memory://", ("memory", "", "")),
    ],
)
def test_split_store_url(url, parts):
    assert split_store_url(url) == parts


def test_unknown_scheme_names_the_known_ones():
    with pytest.raises(StoreURLError, match=r"unknown store scheme 'ftp'.*swift://"):
        open_store("ftp://x")
    with pytest.raises(StoreURLError, match="has no scheme"):
        open_store("notebooks/alice")


def test_missing_extra_says_which_pip_install_fixes_it(monkeypatch):
    # A backend whose client library is absent, as `swift` is without bookstore[swift].
    monkeypatch.setitem(
        registry._BACKENDS, "swift", ("bookstore_no_such_module", "SwiftStore", "swift")
    )
    with pytest.raises(StoreURLError, match=r"pip install 'bookstore\[swift\]'"):
        open_store("swift://notebooks")


def test_each_scheme_opens_its_store(tmp_path):
    assert type(open_store("memory://")).__name__ == "MemoryStore"
    assert type(open_store(f"file://{tmp_path}")).__name__ == "LocalStore"
    assert type(open_store("swift://c/p", auth_url="http://127.0.0.1:9/auth/v1.0")).__name__ == (
        "SwiftStore"
    )
    assert type(open_store("s3://b/p", endpoint_url="http://127.0.0.1:9")).__name__ == "S3Store"
