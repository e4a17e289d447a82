"""R1: many writers at once through the REST API; every acknowledged save reads back identical.

Sized for CI by default (20 writers x 25 saves); scale with the environment, e.g.
``BOOKSTORE_R1_WRITERS=50 BOOKSTORE_R1_SAVES=100 pytest tests/reliability/test_load.py -s``.
"""

from __future__ import annotations

import asyncio
import os
import time

from reliability_helpers import container_snapshot, notebook, source_of

WRITERS = int(os.environ.get("BOOKSTORE_R1_WRITERS", "20"))
SAVES = int(os.environ.get("BOOKSTORE_R1_SAVES", "25"))


async def test_concurrent_writers_every_acknowledged_save_reads_back(rest, swift_info, container):
    acked: dict[int, list[str]] = {w: [] for w in range(WRITERS)}
    failures: list[tuple[int, int, int, str]] = []
    mismatches: list[tuple[int, int, str]] = []
    code = (await rest.call("PUT", "load", {"type": "directory"})).code
    assert code in (200, 201)

    async def writer(w: int) -> None:
        path = f"load/writer-{w:02d}.ipynb"
        for n in range(SAVES):
            # Different sizes, so a mix-up between writers or versions cannot go unseen.
            nb = notebook(f"writer {w} save {n}", size=200 * (n % 7))
            source = source_of({"content": nb})
            r = await rest.call("PUT", path, {"type": "notebook", "content": nb})
            if r.code not in (200, 201):
                failures.append((w, n, r.code, r.message))
                continue
            acked[w].append(source)
            got = await rest.call("GET", path, content=1)
            if got.code != 200 or source_of(got.body) != source:
                mismatches.append((w, n, f"{got.code} {str(got.body)[:100]}"))

    t0 = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    elapsed = time.perf_counter() - t0
    total = sum(len(v) for v in acked.values())
    print(
        f"\nR1: {WRITERS} writers x {SAVES} saves: {total} acknowledged, {len(failures)} failed, "
        f"{len(mismatches)} read back different, in {elapsed:.1f} s "
        f"({total / elapsed:.1f} saves/s with read-back)"
    )
    assert not failures, failures[:5]
    assert not mismatches, mismatches[:5]

    # After the storm, the last acknowledged save of each writer is what is stored,
    # seen through Jupyter and straight from Swift.
    for w, sources in acked.items():
        got = await rest.call("GET", f"load/writer-{w:02d}.ipynb", content=1)
        assert source_of(got.body) == sources[-1]
    listing = await rest.call("GET", "load", content=1)
    assert sorted(m["name"] for m in listing.body["content"]) == [
        f"writer-{w:02d}.ipynb" for w in range(WRITERS)
    ]
    objects = container_snapshot(swift_info, container)
    assert all(f"load/writer-{w:02d}.ipynb" in objects for w in range(WRITERS))
