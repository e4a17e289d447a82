"""What the server says and does at start, against the real Swift."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bookstore.app import BookstoreApp


@pytest.fixture
def jp_server_config(swift_aio, request):
    key = getattr(request, "param", swift_aio.key)
    return {
        "ServerApp": {
            "contents_manager_class": "bookstore.SwiftContentsManager",
            "jpserver_extensions": {"bookstore": True},
        },
        "SwiftContentsManager": {"container": "startup-check"},
        "SwiftStore": {"auth_url": swift_aio.auth_url, "user": swift_aio.user, "key": key},
    }


def app_of(serverapp) -> BookstoreApp:
    [app] = serverapp.extension_manager.extension_apps["bookstore"]
    return app


async def test_start_authenticates_and_logs_the_storage_url(jp_serverapp, swift_aio, caplog):
    caplog.set_level(logging.INFO)
    await app_of(jp_serverapp)._start_jupyter_server_extension(jp_serverapp)
    lines = [r.getMessage() for r in caplog.records if "Serving notebooks from" in r.getMessage()]
    assert lines == [
        f"Serving notebooks from Swift container 'startup-check' (prefix '') at "
        f"{swift_aio.storage_url}"
    ]
    assert swift_aio.key not in lines[0]


@pytest.mark.parametrize("jp_server_config", ["wrong-key"], indirect=True)
async def test_wrong_credentials_stop_the_server_with_a_reason(jp_serverapp, caplog):
    stopped = []
    jp_serverapp.stop = lambda *a, **k: stopped.append(True)
    await app_of(jp_serverapp)._start_jupyter_server_extension(jp_serverapp)
    await asyncio.sleep(0.05)  # the stop is scheduled on the loop
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert stopped and any("test:tester" in m for m in errors), errors
    assert not any("wrong-key" in r.getMessage() for r in caplog.records)
