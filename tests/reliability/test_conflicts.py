"""R4: two clients edit the same notebook; the later save must not silently win.

What the protocol offers (jupyter_server 2.x): ``ContentsHandler.put`` takes no
If-Match and hands the model to ``ContentsManager.save``, which ignores any
``last_modified`` or ``hash`` in it, so the server cannot refuse a stale save by
itself. JupyterLab protects the user on the client side (docregistry ``Context.
_maybeSave``): before each save it GETs ``content=0&hash=1`` and

- if both its own model and the server's carry a ``hash``, a different hash means
  "File Changed" (a conflict dialog instead of an overwrite);
- otherwise it compares times: ``disk.last_modified - own.last_modified > 500 ms``
  means a conflict (``_lastModifiedCheckMargin``).

These tests check what that client-side protocol needs from Bookstore: a hash that
changes with the content, and a ``last_modified`` that changes with every save and
agrees between PUT and GET, even for two saves within the same second (Swift's
``Last-Modified`` header has a one-second resolution).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest
from reliability_helpers import notebook, source_of

LAB_MARGIN = 0.5  # JupyterLab's _lastModifiedCheckMargin, seconds


def when(model: dict) -> datetime:
    return datetime.fromisoformat(model["last_modified"].replace("Z", "+00:00"))


def lab_would_flag_conflict(own: dict, disk: dict) -> bool:
    """JupyterLab's check before a save (Context._maybeSave), in Python."""
    if own.get("hash") is not None and disk.get("hash") is not None:
        return own["hash"] != disk["hash"]
    return (when(disk) - when(own)).total_seconds() > LAB_MARGIN


async def sleep_to_second_start() -> None:
    """Wait until just after a second boundary, so what follows stays within one second."""
    await asyncio.sleep(1.02 - (time.time() % 1.0))


def same_second(began: float) -> None:
    """Both saves must fall within one wall-clock second for the case to be staged."""
    if int(time.time()) != int(began):
        pytest.skip("the machine was too slow to make both saves within one second")


async def test_put_ignores_a_stale_model_server_side(rest):
    """No server-side check exists: a save carrying an old last_modified/hash is accepted.
    (Documents the protocol; the client must check, as JupyterLab does.)"""
    r = await rest.call("PUT", "s.ipynb", {"type": "notebook", "content": notebook("v1")})
    stale = (await rest.call("GET", "s.ipynb", content=0, hash=1)).body
    await rest.call("PUT", "s.ipynb", {"type": "notebook", "content": notebook("v2 by B")})
    r = await rest.call(
        "PUT",
        "s.ipynb",
        {
            "type": "notebook",
            "content": notebook("v3 by A"),
            "last_modified": stale["last_modified"],
            "hash": stale["hash"],
        },
    )
    assert r.code == 200
    got = await rest.call("GET", "s.ipynb")
    assert source_of(got.body) == "v3 by A"


async def test_jupyterlab_hash_check_sees_the_other_clients_save(rest):
    """A opens, B saves, A is about to save: A's pre-save check finds the change."""
    await rest.call("PUT", "h.ipynb", {"type": "notebook", "content": notebook("original")})
    a_opened = (await rest.call("GET", "h.ipynb", content=1, hash=1)).body
    assert a_opened["hash"] and a_opened["hash_algorithm"] == "sha256"
    await rest.call("PUT", "h.ipynb", {"type": "notebook", "content": notebook("B's edit")})
    disk = (await rest.call("GET", "h.ipynb", content=0, hash=1)).body
    assert lab_would_flag_conflict(a_opened, disk)
    # ... and an unchanged file is not flagged: A's own save then re-check is clean.
    own = (await rest.call("GET", "h.ipynb", content=0, hash=1)).body
    assert not lab_would_flag_conflict(own, disk)


async def test_hash_changes_with_every_save_of_different_content(rest):
    hashes = []
    for i in range(3):
        await rest.call("PUT", "hh.ipynb", {"type": "notebook", "content": notebook(f"v{i}")})
        hashes.append((await rest.call("GET", "hh.ipynb", content=0, hash=1)).body["hash"])
    assert len(set(hashes)) == 3


async def test_put_and_get_agree_on_last_modified(rest):
    saved = (await rest.call("PUT", "t.ipynb", {"type": "notebook", "content": notebook("x")})).body
    got = (await rest.call("GET", "t.ipynb", content=0)).body
    listed = (await rest.call("GET", "", content=1)).body["content"]
    [entry] = [m for m in listed if m["name"] == "t.ipynb"]
    assert saved["last_modified"] == got["last_modified"] == entry["last_modified"]


async def test_last_modified_changes_for_two_saves_within_one_second(rest):
    await rest.call("PUT", "q.ipynb", {"type": "notebook", "content": notebook("v0")})
    await sleep_to_second_start()
    began = time.time()
    first = await rest.call("PUT", "q.ipynb", {"type": "notebook", "content": notebook("A")})
    second = await rest.call("PUT", "q.ipynb", {"type": "notebook", "content": notebook("B")})
    same_second(began)
    assert first.code == second.code == 200
    assert when(second.body) > when(first.body)
    disk = (await rest.call("GET", "q.ipynb", content=0)).body
    assert when(disk) == when(second.body)


async def test_time_based_conflict_check_catches_a_save_600ms_later(rest):
    await rest.call("PUT", "c.ipynb", {"type": "notebook", "content": notebook("v0")})
    await sleep_to_second_start()
    began = time.time()
    a_saved = (
        await rest.call("PUT", "c.ipynb", {"type": "notebook", "content": notebook("A")})
    ).body
    await asyncio.sleep(0.6)
    await rest.call("PUT", "c.ipynb", {"type": "notebook", "content": notebook("B")})
    same_second(began)
    disk = (await rest.call("GET", "c.ipynb", content=0)).body  # no hash: a time-only client
    assert lab_would_flag_conflict(a_saved, disk), (a_saved["last_modified"], disk["last_modified"])
