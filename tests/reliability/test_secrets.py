"""R6: no password, key, token or temp-url key in logs (at DEBUG), errors or API responses.

A real ``jupyter server`` process runs Bookstore at log level DEBUG with the Swift key
given the usual way (``c.SwiftStore.key`` in a config file); the test drives a
session (saves, listings, checkpoints, errors, a refused token) and then reads
everything the process logged and every response body it sent.

The swift-aio key is ``testing`` and its tokens start ``AUTH_tk``. "testing" is also
an ordinary word, so the log is searched for it in key-like positions only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from reliability_helpers import (
    Rest,
    jupyter_server_process,
    notebook,
)

from kinds import unique

TOKEN = re.compile(r"AUTH_tk[0-9a-f]{4,}")


def key_like(key: str) -> re.Pattern:
    k = re.escape(key)
    return re.compile(
        rf"""(?ix)
        (key|password|passwd|secret|credential|auth)[\w-]*['"]?\s*[:=]\s*['"]?{k}\b
        | x-auth-key['"]?\s*[:=]\s*['"]?{k}
        | ['"]{k}['"]
        """
    )


def leaks(text: str, key: str) -> list[str]:
    """Each leak as ``logger prefix ... context around the secret``."""
    pattern = key_like(key)
    out = []
    for line in text.splitlines():
        found = pattern.search(line) or TOKEN.search(line)
        if found:
            start = max(0, found.start() - 80)
            out.append(f"{line[:40]} ... {line[start : found.end() + 20]}")
    return out


def server_config(container: str, store: dict) -> dict:
    # The server extensions installed with Bookstore stay on (jupyterlab, terminals...):
    # the leak below shows when they link, as in `make run`.
    return {
        "ServerApp": {"contents_manager_class": "bookstore.BookstoreContentsManager"},
        "BookstoreContentsManager": {"store_url": f"swift://{container}/"},
        "SwiftStore": store,
    }


async def drive_session(server, seen: list[str]) -> None:
    rest = Rest(server.url, server.headers)
    try:
        calls = [
            ("PUT", "n.ipynb", {"type": "notebook", "content": notebook("x")}),
            ("GET", "n.ipynb", None),
            ("GET", "", None),
            ("POST", "n.ipynb/checkpoints", None),
            ("GET", "n.ipynb/checkpoints", None),
            ("GET", "missing.ipynb", None),
            ("PUT", "bad.ipynb", {"type": "notebook", "content": "nope"}),
            ("PATCH", "n.ipynb", {"path": "m.ipynb"}),
            ("DELETE", "m.ipynb", None),
        ]
        for method, path, body in calls:
            r = await rest.call(method, path, body)
            seen.append(f"{method} {path} -> {r.code} {r.headers} {r.body}")
    finally:
        rest.close()


@dataclass
class Session:
    log: str  # everything the server process wrote
    responses: list[str]  # every answer: status, headers, body
    token: str  # the Jupyter server's own token (given on its command line)


def debug_server_log(home, swift, container, *, key_in: str) -> Session:
    """Run a DEBUG-level server through a session, with the Swift key given ``key_in``
    "config" (a config file), "argv" (the command line) or "env" (ST_AUTH/ST_USER/ST_KEY,
    used when no credential is configured)."""
    import asyncio

    creds = {"auth_url": swift.auth_url, "user": swift.user}
    store, args, env = {}, ["--debug"], {}
    if key_in == "config":
        store = {**creds, "key": swift.key}
    elif key_in == "argv":
        store, args = creds, [*args, f"--SwiftStore.key={swift.key}"]
    else:
        env = {"ST_AUTH": swift.auth_url, "ST_USER": swift.user, "ST_KEY": swift.key}
    seen: list[str] = []
    with jupyter_server_process(
        home, server_config(container, store), args=args, env=env
    ) as server:
        loop = asyncio.new_event_loop()  # its own loop: pytest-jupyter's stays the current one
        try:
            loop.run_until_complete(drive_session(server, seen))
        finally:
            loop.close()
        return Session(server.log(), seen, server.token)


@pytest.fixture(scope="module")
def session(request, tmp_path_factory, swift_aio) -> Session:
    """One server per way of giving the key (the tests' ``session`` parameter)."""
    home = tmp_path_factory.mktemp(f"secrets-{request.param}")
    return debug_server_log(home, swift_aio, unique("secrets"), key_in=request.param)


EVERY_WAY = pytest.mark.parametrize("session", ["env", "config", "argv"], indirect=True)


@EVERY_WAY
def test_the_log_is_the_real_one(session):
    assert "Uploading file to /n.ipynb" in session.log and "Config changed" in session.log


@EVERY_WAY
def test_debug_log_holds_no_swift_key(session, swift_aio):
    assert not leaks(session.log, swift_aio.key), leaks(session.log, swift_aio.key)[:5]


@EVERY_WAY
def test_debug_log_holds_no_jupyter_token(session):
    """The server's own token (always given on its command line here) is a secret too."""
    lines = [line[:80] for line in session.log.splitlines() if session.token in line]
    assert not lines, lines[:3]


@EVERY_WAY
def test_responses_hold_no_secret(session, swift_aio):
    assert not leaks("\n".join(session.responses), swift_aio.key)
    assert not any(swift_aio.key in r.split("->", 1)[1] for r in session.responses)


async def test_refused_credentials_name_the_user_not_the_key(tmp_path, swift_aio, caplog):
    """The error a person sees when Swift refuses the key says who, never the key."""
    from traitlets.config import Config

    from bookstore import errors
    from bookstore.stores.registry import open_store

    secret = "sup3r-s3cret-key"
    store = open_store(
        "swift://secrets-wrong/",
        config=Config(
            {
                "SwiftStore": {
                    "auth_url": swift_aio.auth_url,
                    "user": swift_aio.user,
                    "key": secret,
                    "retries": 0,
                }
            }
        ),
    )
    try:
        with pytest.raises(errors.Unauthenticated) as info:
            await store.connect()
    finally:
        await store.close()
    assert swift_aio.user in str(info.value)
    assert secret not in str(info.value) and secret not in repr(store)
    assert not any(secret in r.getMessage() for r in caplog.records)
