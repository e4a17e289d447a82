"""Where one save or open of a big notebook spends its time, in-process, per phase.

``python -m bench.inproc [--mb 10] [--repeat 5]`` runs BookstoreContentsManager (on the
bench's Swift) and jupyter_server's AsyncLargeFileManager (on a temp dir) side by side,
calling ``save``/``get`` directly (no HTTP), and times every store call Bookstore makes:
the rest of a call is the notebook work both managers share (parse, validate, sign,
serialise). It is the evidence behind P1/P1b in the README's Benchmarks section.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path

from traitlets.config import Config

from . import data
from .servers import Swift

HERE = Path(__file__).resolve().parent


class TimedStore:
    """Wraps a Store: wall time of every call, by method (the rest is Jupyter-side work)."""

    def __init__(self, store) -> None:
        self._store = store
        self.times: dict[str, list[float]] = {}

    def reset(self) -> None:
        self.times = {}

    def __getattr__(self, name: str):
        attr = getattr(self._store, name)
        if name not in ("head", "get", "put", "copy", "delete", "delete_many", "list"):
            return attr
        if name == "list":

            async def listing(*args, **kwargs):
                t0 = time.perf_counter()
                async for page in attr(*args, **kwargs):
                    yield page
                self.times.setdefault("list", []).append(time.perf_counter() - t0)

            return listing

        async def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                self.times.setdefault(name, []).append(time.perf_counter() - t0)

        return timed


async def run(mb: float, repeat: int) -> None:
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

    from bookstore import BookstoreContentsManager

    nb = data.make_notebook(int(mb * 1024 * 1024), seed=10)
    body = data.json_body({"type": "notebook", "content": nb})
    swift = Swift(HERE / ".cache" / "swift-aio")
    with swift as info, tempfile.TemporaryDirectory() as root:
        cfg = Config(
            {
                "BookstoreContentsManager": {"store_url": "swift://bench-inproc/"},
                "SwiftStore": {"auth_url": info.auth_url, "user": info.user, "key": info.key},
            }
        )
        managers = {
            "bookstore": BookstoreContentsManager(config=cfg),
            "file": AsyncLargeFileManager(root_dir=root),
        }
        for cm in managers.values():
            await cm.save(json.loads(body), "big.ipynb")  # first save: checkpoint, connect
        timed = TimedStore(managers["bookstore"].store)
        managers["bookstore"].store = timed
        payload = data.notebook_bytes(nb)
        for algo in ("sha256", "md5"):
            t0 = time.perf_counter()
            hashlib.new(algo, payload).hexdigest()
            ms = 1000 * (time.perf_counter() - t0)
            print(f"{algo} of {len(payload) / 2**20:.1f} MB: {ms:.0f} ms")
        for op in ("save", "get"):
            print(
                f"\n{op} of a {len(body) / 2**20:.1f} MB notebook, in-process, median of {repeat}:"
            )
            for name, cm in managers.items():
                wall = []
                timed.reset()
                for _ in range(repeat):
                    model = json.loads(body)
                    t0 = time.perf_counter()
                    if op == "save":
                        await cm.save(model, "big.ipynb")
                    else:
                        await cm.get("big.ipynb", content=True)
                    wall.append(time.perf_counter() - t0)
                line = f"  {name:9s} {1000 * statistics.median(wall):5.0f} ms"
                if name == "bookstore":
                    calls = ", ".join(
                        f"{k} {len(v) // repeat} x {1000 * statistics.median(v):.0f} ms"
                        for k, v in timed.times.items()
                    )
                    store_s = sum(sum(v) for v in timed.times.values()) / repeat
                    line += f"  (store calls: {calls}; total {1000 * store_s:.0f} ms)"
                print(line)
        await managers["bookstore"].store.close()


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.inproc", description=__doc__)
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    asyncio.run(run(args.mb, args.repeat))


if __name__ == "__main__":
    main()
