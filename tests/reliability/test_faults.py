"""R2: Swift dies during a save load and comes back; Jupyter recovers by itself.

The test runs its own swift-aio (its own data dir and port), kills it with SIGKILL
mid-load, keeps it down for a while, and starts it again on the same port, while
the Jupyter server under test keeps running. swift-aio is one process (proxy,
account, container and object servers together), so "one storage node down while
the proxy lives" cannot be staged here: the proxy and every storage server die
together.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import pytest
from reliability_helpers import container_snapshot, free_port, notebook, source_of

from bookstore.devswift import start, status, stop

WRITERS = 6
DOWN_SECONDS = 3.0


@pytest.fixture
def swift_info(tmp_path):
    """A Swift of this test's own, killable without disturbing the session's."""
    data_dir = tmp_path / "own-swift"
    info, _ = start(data_dir, free_port(), stop_with_parent=True)
    yield info
    stop(data_dir)


@pytest.fixture
def swift_store_options(swift_info) -> dict:
    # Fail fast while Swift is down (the default retries for ~4 s); enough tries to ride
    # out a dropped connection.
    return {
        "auth_url": swift_info.auth_url,
        "user": swift_info.user,
        "key": swift_info.key,
        "retries": 2,
        "retry_backoff": 0.1,
        "timeout": 10.0,
    }


def kill_swift(info) -> None:
    os.kill(info.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while status(info.data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    stop(info.data_dir)  # reaps the child, clears its pid and state files


async def test_swift_killed_and_restarted_during_saves(rest, swift_info, container):
    assert (await rest.call("PUT", "f", {"type": "directory"})).code == 201
    # attempts[w] = every source writer w tried, in order; acked[w] = index of the last ack
    attempts: dict[int, list[str]] = {w: [] for w in range(WRITERS)}
    acked: dict[int, int] = {}
    failures: list[tuple[int, str]] = []
    phase = {"name": "before"}
    by_phase: dict[str, list[int]] = {"before": [], "down": [], "after": []}
    stop_writing = asyncio.Event()
    back: set[int] = set()  # writers acknowledged again after the restart
    all_back = asyncio.Event()

    async def writer(w: int) -> None:
        n = 0
        while not stop_writing.is_set():
            nb = notebook(f"w{w} n{n}", size=3000)
            attempts[w].append(source_of({"content": nb}))
            started_in = phase["name"]
            r = await rest.call("PUT", f"f/w{w}.ipynb", {"type": "notebook", "content": nb})
            by_phase[started_in].append(r.code)
            if r.code in (200, 201):
                acked[w] = n
                if started_in == "after":
                    back.add(w)
                    if len(back) == WRITERS:
                        all_back.set()
            else:
                failures.append((r.code, r.message))
            n += 1
            await asyncio.sleep(0.02)

    tasks = [asyncio.create_task(writer(w)) for w in range(WRITERS)]
    await asyncio.sleep(1.5)
    phase["name"] = "down"
    await asyncio.to_thread(kill_swift, swift_info)
    await asyncio.sleep(DOWN_SECONDS)
    restarted, _ = await asyncio.to_thread(
        start, swift_info.data_dir, swift_info.port, stop_with_parent=True
    )
    assert restarted.port == swift_info.port
    phase["name"] = "after"
    # Keep writing until every writer has been acknowledged again (a generous deadline,
    # for a slow machine): recovery takes a reconnect and a re-authentication.
    await asyncio.sleep(2.0)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_back.wait(), timeout=60)
    stop_writing.set()
    await asyncio.gather(*tasks)

    counts = {p: (sum(c in (200, 201) for c in cs), len(cs)) for p, cs in by_phase.items()}
    print(f"\nR2: (acknowledged, tried) by phase: {counts}; failures: {len(failures)}")
    assert counts["before"][0] > 0, "no save succeeded before the fault"
    assert failures, "Swift was down, yet no save failed: the fault was not exercised"
    # Every failure was a clear 503 saying the storage is unavailable.
    assert {code for code, _ in failures} == {503}, failures[:5]
    assert all("storage service is unavailable" in m for _, m in failures), failures[:3]

    # The server recovered by itself: saves succeed again without restarting Jupyter.
    after = [c for c in by_phase["after"]]
    assert back == set(range(WRITERS)), f"writers not back after the restart: {after}"
    r = await rest.call("PUT", "f/final.ipynb", {"type": "notebook", "content": notebook("ok")})
    assert r.code in (200, 201), (r.code, r.message)

    # Every acknowledged save is durable: what is stored is the last acknowledged source
    # or one tried after it (a failed save may still have landed: its answer was lost).
    objects = container_snapshot(restarted, container)
    for w, last in acked.items():
        assert f"f/w{w}.ipynb" in objects
        got = await rest.call("GET", f"f/w{w}.ipynb", content=1)
        assert got.code == 200, (got.code, got.message)
        assert source_of(got.body) in attempts[w][last:], (w, last, source_of(got.body)[:20])
