"""``{username}`` in store URLs: ``bookstore.hub`` (pure, no server)."""

from __future__ import annotations

import pytest

from bookstore.hub import UnsafeUsername, escape_username, expand_store_url


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("alice", "alice"),
        ("alice2", "alice2"),
        ("ann.lee", "ann-2elee"),
        ("Ann", "-41nn"),
        ("a-b", "a-2db"),  # "-" is escaped too, so ...
        ("a-2db", "a-2d2db"),  # ... no two names share an escape
        ("x@example.org", "x-40example-2eorg"),
        ("zoë", "zo-c3-ab"),
        ("李", "-e6-9d-8e"),
        ("a b", "a-20b"),
    ],
)
def test_escape_username(name, escaped):
    assert escape_username(name) == escaped


@pytest.mark.parametrize("name", ["", "a/b", "..", "a..b", "/", "a\0b"])
def test_unsafe_usernames_are_refused(name):
    with pytest.raises(UnsafeUsername):
        escape_username(name)


def test_expand_store_url():
    env = {"JUPYTERHUB_USER": "ann.lee"}
    assert expand_store_url("swift://notebooks-{username}", env) == "swift://notebooks-ann-2elee"
    assert expand_store_url("s3://nb/users/{username}/", env) == "s3://nb/users/ann-2elee/"
    assert expand_store_url("swift://shared", {}) == "swift://shared"  # no placeholder: as is
    with pytest.raises(UnsafeUsername, match="JUPYTERHUB_USER"):
        expand_store_url("swift://notebooks-{username}", {})
    with pytest.raises(UnsafeUsername):
        expand_store_url("swift://nb/{username}", {"JUPYTERHUB_USER": "../bob"})


def test_escaping_is_one_to_one():
    names = ["a-b", "a.b", "a_b", "a b", "A-B", "a-2eb", "a-2db", "a", "-", "--", "-2d"]
    escaped = [escape_username(n) for n in names]
    assert len(set(escaped)) == len(names)
    assert all(set(e) <= set("abcdefghijklmnopqrstuvwxyz0123456789-") for e in escaped)


async def test_the_contents_manager_expands_its_store_url(monkeypatch):
    """Once manager.py calls expand_store_url (see the report), one config serves every user."""
    from bookstore.contents import BookstoreContentsManager

    monkeypatch.setenv("JUPYTERHUB_USER", "ann.lee")
    cm = BookstoreContentsManager(store_url="memory://nb-{username}")
    assert cm.store.description.startswith("memory://nb-ann-2elee/")
